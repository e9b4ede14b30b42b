-- Mailtrail local endpoint, schema 2 (PostgreSQL): records found by their compose window's
-- draft id. A brand-new email logged from Outlook is recorded at send time, before it has a
-- Message-ID; the sent copy carries the draft id in an X-Mailtrail-Draft header, which is how
-- the IMAP watcher finds the record (GET /v1/records?draftId=). Ids longer than a header line
-- are not indexed, like Message-IDs.

ALTER TABLE records ADD COLUMN draft_id TEXT;
UPDATE records SET draft_id = btrim(body::jsonb ->> 'draftId')
 WHERE body LIKE '%"draftId"%'
   AND jsonb_typeof(body::jsonb -> 'draftId') = 'string'
   AND octet_length(btrim(body::jsonb ->> 'draftId')) BETWEEN 1 AND 998;
CREATE INDEX records_draft_id ON records (draft_id) WHERE draft_id IS NOT NULL;
