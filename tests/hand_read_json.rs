//! Types whose JSON is read by hand-written code instead of serde's tagged/untagged derive (to
//! keep the browser engine small): they must read exactly what they write, and say what is
//! wrong with what they cannot read.

use mailtrail::email::{AddressInput, ComposeData, IdsInput};
use mailtrail::policy::Trigger;
use mailtrail::settings::EndpointConfig;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: T) {
    let json = serde_json::to_string(&value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(back, value, "{json}");
}

fn error<T: DeserializeOwned + Debug>(json: &str) -> String {
    serde_json::from_str::<T>(json).unwrap_err().to_string()
}

#[test]
fn triggers() {
    for t in [
        Trigger::Send { log_checked: true },
        Trigger::Send { log_checked: false },
        Trigger::Manual,
        Trigger::Incoming,
        Trigger::BccCopy,
        Trigger::Forwarded,
        Trigger::ManualForward,
    ] {
        round_trip(t);
    }
    let t: Trigger = serde_json::from_str(r#"{"kind":"bcc-copy","extra":1}"#).unwrap();
    assert_eq!(t, Trigger::BccCopy, "unknown fields are ignored, as before");
    assert!(error::<Trigger>(r#"{"kind":"send"}"#).contains("missing field `logChecked`"));
    assert!(error::<Trigger>(r#"{"kind":"sent"}"#).contains("unknown variant `sent`"));
    assert!(error::<Trigger>(r#"{}"#).contains("missing field `kind`"));
}

#[test]
fn endpoints() {
    round_trip(EndpointConfig::Local {
        url: "http://127.0.0.1:8787".into(),
        token: "t".into(),
    });
    round_trip(EndpointConfig::Webhook {
        url: "https://crm.example/hook".into(),
        secret: "s".into(),
    });
    round_trip(EndpointConfig::Hubspot {
        token: "pat".into(),
        base_url: "https://eu.example".into(),
        emails_path: "/e".into(),
        contacts_path: "/c".into(),
        owner_id: None,
    });
    let h: EndpointConfig = serde_json::from_str(r#"{"type":"hubspot","token":"pat"}"#).unwrap();
    assert_eq!(
        h,
        EndpointConfig::Hubspot {
            token: "pat".into(),
            base_url: "https://api.hubapi.com".into(),
            emails_path: "/crm/v3/objects/emails".into(),
            contacts_path: "/crm/v3/objects/contacts".into(),
            owner_id: None,
        }
    );
    assert!(
        error::<EndpointConfig>(r#"{"type":"webhook","url":"https://x"}"#)
            .contains("missing field `secret`")
    );
    assert!(error::<EndpointConfig>(r#"{"type":"salesforce"}"#)
        .contains("unknown variant `salesforce`"));
}

#[test]
fn compose_addresses_and_ids() {
    let data: ComposeData = serde_json::from_str(
        r#"{"from":"Me <me@ourco.example>","to":["Jane <jane@c.example>",{"address":"bob@c.example","name":"Bob"},{"address":"x@c.example"}],"references":"<a@x> <b@x>"}"#,
    )
    .unwrap();
    assert_eq!(
        data.from,
        Some(AddressInput::Text("Me <me@ourco.example>".into()))
    );
    assert_eq!(
        data.to[1],
        AddressInput::Object {
            address: "bob@c.example".into(),
            name: Some("Bob".into())
        }
    );
    assert_eq!(
        data.to[2],
        AddressInput::Object {
            address: "x@c.example".into(),
            name: None
        }
    );
    assert_eq!(data.references, Some(IdsInput::One("<a@x> <b@x>".into())));
    round_trip(data);
    let list: ComposeData = serde_json::from_str(r#"{"references":["<a@x>","<b@x>"]}"#).unwrap();
    assert_eq!(
        list.references,
        Some(IdsInput::Many(vec!["<a@x>".into(), "<b@x>".into()]))
    );
    assert!(error::<ComposeData>(r#"{"to":[42]}"#).contains("an address as text"));
    assert!(error::<ComposeData>(r#"{"to":[{"name":"No address"}]}"#)
        .contains("missing field `address`"));
    assert!(error::<ComposeData>(r#"{"references":{"a":1}}"#).contains("message ids"));
}
