//! Message-ID, In-Reply-To and References: turning header text into clean ids.
//!
//! Clients write these fields loosely: missing angle brackets, commas between ids, comments,
//! folded lines. Thread matching needs each id exactly once, without brackets or spaces.

/// Cleans one Message-ID: trims whitespace and angle brackets. `None` when nothing is left or it
/// is not id-shaped (no `@` and no printable content).
pub fn clean_message_id(id: &str) -> Option<String> {
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some(id.to_string())
}

/// Splits a References/In-Reply-To value into clean ids, in order, without duplicates.
/// Accepts `<a@b> <c@d>`, `<a@b>,<c@d>`, ids without brackets, and ignores comments in `( )`.
pub fn parse_id_list(value: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut push = |raw: &str| {
        if let Some(id) = clean_message_id(raw) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    };
    let mut rest = value;
    while !rest.is_empty() {
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',' || c == ';');
        if trimmed.is_empty() {
            break;
        }
        if let Some(after) = trimmed.strip_prefix('(') {
            // Comment: skip to the closing parenthesis (unbalanced → skip the rest).
            rest = after.find(')').map(|i| &after[i + 1..]).unwrap_or("");
            continue;
        }
        if let Some(after) = trimmed.strip_prefix('<') {
            match after.find('>') {
                Some(end) => {
                    // Folding can put whitespace inside brackets; ids never contain it.
                    let inner: String = after[..end].split_whitespace().collect();
                    push(&inner);
                    rest = &after[end + 1..];
                }
                None => {
                    push(after.split_whitespace().next().unwrap_or(""));
                    rest = "";
                }
            }
            continue;
        }
        let end = trimmed
            .find(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '<' || c == '(')
            .unwrap_or(trimmed.len());
        let token = &trimmed[..end];
        if token.contains('@') {
            push(token);
        }
        rest = &trimmed[end..];
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_ids() {
        assert_eq!(clean_message_id(" <a.b@c> ").as_deref(), Some("a.b@c"));
        assert_eq!(clean_message_id("<>"), None);
        assert_eq!(clean_message_id("a b@c"), None);
    }

    #[test]
    fn parses_lists_in_many_shapes() {
        assert_eq!(parse_id_list("<a@x> <b@y>"), vec!["a@x", "b@y"]);
        assert_eq!(parse_id_list("<a@x>,<b@y>;<a@x>"), vec!["a@x", "b@y"]);
        assert_eq!(parse_id_list("a@x b@y"), vec!["a@x", "b@y"]);
        assert_eq!(
            parse_id_list("<a@x> (comment <z@z>) <b@y>"),
            vec!["a@x", "b@y"]
        );
        assert_eq!(parse_id_list("<a@\r\n x>"), vec!["a@x"]);
        assert_eq!(parse_id_list("<unterminated@x"), vec!["unterminated@x"]);
        assert!(parse_id_list("   ").is_empty());
        assert!(parse_id_list("(only a comment").is_empty());
    }
}
