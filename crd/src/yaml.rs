//! Reading a YAML stream into documents, with errors told in the user's terms: which
//! document, which line and column, and what is wrong, never the YAML library's internals.

use serde_json::Value;
use serde_saphyr::Error;

/// A YAML stream that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based position of the document in the stream.
    pub document: usize,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Every document of a YAML stream, as JSON values (a document that is empty is `null`).
pub fn documents(text: &str) -> Result<Vec<Value>, YamlError> {
    serde_saphyr::from_multiple(text).map_err(|error| explain(text, &error))
}

fn explain(text: &str, error: &Error) -> YamlError {
    let (line, column) = error.location().map_or((0, 0), |l| (l.line(), l.column()));
    YamlError {
        document: document_at(text, line),
        line,
        column,
        message: plain_message(error),
    }
}

const TOO_LARGE: &str = "the document is too large, nests too deeply or expands too many aliases to be an App or a Platform; write it out plainly";

// The library wraps some errors (with a snippet of the input), so the variants are matched
// first and their texts second.
fn plain_message(error: &Error) -> String {
    match error {
        Error::DuplicateMappingKey { key, .. } => format!(
            "the key {} appears twice in the same mapping; keep one of them",
            key.as_deref()
                .map_or_else(|| "shown".to_string(), |k| format!("`{k}`"))
        ),
        Error::Budget { .. } => TOO_LARGE.to_string(),
        other => {
            // The library's first line reads `error: line L column C: what`; the position is
            // told separately, and anything after a comma addressed to programmers is dropped.
            let rendered = other.to_string();
            let first = rendered.lines().next().unwrap_or_default();
            let what = first
                .split_once(": ")
                .map_or(first, |(_, rest)| rest)
                .trim_start_matches(|c: char| c != ':' && !c.is_alphabetic());
            let what = match what.split_once(": ") {
                Some((position, rest)) if position.starts_with("line ") => rest,
                _ => what,
            };
            let what = what.split(", set ").next().unwrap_or(what);
            if what.starts_with("budget breached") {
                return TOO_LARGE.to_string();
            }
            if let Some(key) = what.strip_prefix("duplicate mapping key: ") {
                return format!(
                    "the key `{key}` appears twice in the same mapping; keep one of them"
                );
            }
            if what.is_empty() {
                "this is not valid YAML".to_string()
            } else {
                what.to_string()
            }
        }
    }
}

/// Which document (1-based) holds `line` (1-based), counting `---` separators before it; a
/// separator on the very first content line opens the first document, not a second.
fn document_at(text: &str, line: u64) -> usize {
    let mut document = 1;
    let mut content_seen = false;
    for (number, text_line) in text.lines().enumerate() {
        if number as u64 + 1 >= line {
            break;
        }
        let trimmed = text_line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            if content_seen {
                document += 1;
            }
            content_seen = true;
        } else if !trimmed.is_empty() && !trimmed.starts_with('#') {
            content_seen = true;
        }
    }
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syntax_error_names_the_document_and_the_line() {
        let error = documents("a: 1\n---\nb: 2\n---\nc: [\n").unwrap_err();
        assert_eq!((error.document, error.line), (3, 5), "{error:?}");
        assert_eq!(error.message, "unclosed bracket '['");
    }

    #[test]
    fn a_duplicate_key_is_told_without_library_options() {
        let error = documents("a: 1\na: 2\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert_eq!(
            error.message,
            "the key `a` appears twice in the same mapping; keep one of them"
        );
        assert!(!error.message.contains("DuplicateKeyPolicy"));
    }

    #[test]
    fn an_alias_bomb_is_refused_in_plain_words() {
        let mut text = String::from("a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n");
        for level in 1..12 {
            let previous = format!("*a{}", level - 1);
            let items = vec![previous; 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        let error = documents(&text).unwrap_err();
        assert!(error.message.contains("too large"), "{error:?}");
        assert!(!error.message.contains("budget"), "{error:?}");
    }

    #[test]
    fn a_leading_separator_opens_the_first_document() {
        assert_eq!(document_at("---\na: 1\nb: [\n", 3), 1);
        assert_eq!(document_at("# c\n---\na: 1\n---\nb: [\n", 5), 2);
    }
}
