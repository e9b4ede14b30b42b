//! `mailtrail serve` against a real PostgreSQL (`scripts/pg start` sets MAILTRAIL_TEST_PG; unset
//! fails loudly, `MAILTRAIL_TEST_PG=skip` skips on purpose). Same scenarios as SQLite, plus
//! two instances sharing one database, as teams run it.

#[macro_use]
mod serve_support;

use serde_json::json;
use serve_support::*;

backend_tests!(Kind::Postgres;
    records_are_idempotent,
    concurrent_duplicates_store_once,
    authentication_errors,
    bad_input_names_the_field,
    oversized_records_get_413,
    // The 50 MiB case runs on SQLite; the bytea path is the same code with a smaller blob.
    accepts_large_attachments_8_mib,
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
);

/// Two servers on one database (each with its own writer): concurrent duplicates sent to both
/// are stored once — the unique constraints decide, not an in-process check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_database() {
    let Some(db) = TestDb::new(Kind::Postgres).await else {
        return;
    };
    let dir_a = temp_dir("pg-a");
    let dir_b = temp_dir("pg-b");
    let a = Server::start(&dir_a, &db, &[]);
    // Same token on both (a team shares it): copy A's token file to B before it starts.
    std::fs::copy(dir_a.join("token"), dir_b.join("token")).unwrap();
    let b = Server::start(&dir_b, &db, &[]);
    assert_eq!(a.token, b.token);
    let mut tasks = Vec::new();
    for i in 0..60 {
        let server_url = if i % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let client = a.client.clone();
        let token = a.token.clone();
        // 20 distinct emails, each sent 3 times (keys differ on one of the copies: same Message-ID).
        let n = i % 20;
        let key = if i % 3 == 0 {
            format!("c1-dup-{n}-{i}")
        } else {
            format!("m1-shared-{n}")
        };
        let body = record(&key, json!({"messageId": format!("shared-{n}@x.example")})).to_string();
        tasks.push(tokio::spawn(async move {
            let now = now_secs();
            let r = client
                .post(format!("{server_url}/v1/records"))
                .header("Mailtrail-Timestamp", now.to_string())
                .header(
                    "Mailtrail-Signature",
                    mailtrail::webhook::sign(token.as_bytes(), now, body.as_bytes()),
                )
                .body(body)
                .send()
                .await
                .expect("post");
            (n, r.status().as_u16())
        }));
    }
    let mut created = [0; 20];
    for t in tasks {
        let (n, st) = t.await.unwrap();
        assert!(st == 200 || st == 201, "status {st}");
        if st == 201 {
            created[n] += 1;
        }
    }
    assert_eq!(
        created, [1; 20],
        "each email created exactly once across both instances"
    );
    assert_eq!(count(&db, &dir_a, "SELECT COUNT(*) FROM records").await, 20);
    drop(a);
    drop(b);
    db.drop_db().await;
}
