//! Forwarded-email and reply extraction (see issue "Forwarded-email and reply extraction").
