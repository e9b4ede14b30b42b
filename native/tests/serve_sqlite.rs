//! `mailtrail serve` against SQLite (the default): the whole contract, through the real binary.

#[macro_use]
mod serve_support;

use serve_support::Kind;

backend_tests!(Kind::Sqlite;
    records_are_idempotent,
    concurrent_duplicates_store_once,
    authentication_errors,
    bad_input_names_the_field,
    oversized_records_get_413,
    accepts_attachments_up_to_50_mib,
    rate_limit_answers_429,
    contact_lookup,
    contacts_crud_and_search,
    timeline_groups_threads_newest_first,
    timeline_pages_by_thread,
    attachments_are_stored_once,
    get_and_delete_records,
    records_found_by_message_id,
    records_found_by_draft_id,
    watch_status_round_trip,
    migrations_apply_once_and_refuse_newer,
    web_ui_requires_sign_in_and_escapes,
    web_ui_shows_times_in_the_chosen_time_zone,
    web_ui_pages_a_long_thread,
    nul_characters_are_stored_as_replacement,
    unstorable_values_are_not_retried,
    bad_uploads_are_refused_before_the_body_is_read,
    record_bodies_in_memory_are_bounded,
    small_routes_refuse_large_bodies,
    cli_push_of_a_forward_looks_up_the_original_sender,
    cli_push_with_a_future_now_delivers_at_once,
);
