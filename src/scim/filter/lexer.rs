//! Lexer: filter or PATCH path text → tokens, each with its char position.
//!
//! Keywords and attribute paths are both [`TokenKind::Word`]; the parser tells them apart by
//! where they stand. String literals follow JSON rules (RFC 7644 §3.4.2.2: `compValue` is a JSON
//! value) and are decoded by `serde_json` once the lexer has checked their escapes.

use super::ast::{FilterError, MAX_FILTER_LEN};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    /// An attribute path (`emails`, `name.familyName`, `urn:…:User:manager.value`) or a keyword
    /// (`eq`, `and`, `not`, `true`, …).
    Word(String),
    /// A string literal, decoded.
    Str(String),
    Num(serde_json::Number),
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A `.` that starts no word: the one in `emails[type eq "work"].value`.
    Dot,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: TokenKind,
    /// 0-based char offset of the token's first char.
    pub position: usize,
}

impl Token {
    /// How an error message names this token.
    pub fn describe(&self) -> String {
        match &self.kind {
            TokenKind::Word(w) => format!("'{w}'"),
            TokenKind::Str(s) if s.chars().count() > 40 => {
                let head: String = s.chars().take(40).collect();
                format!("string {head:?}…")
            }
            TokenKind::Str(s) => format!("string {s:?}"),
            TokenKind::Num(n) => format!("number {n}"),
            TokenKind::LParen => "'('".into(),
            TokenKind::RParen => "')'".into(),
            TokenKind::LBracket => "'['".into(),
            TokenKind::RBracket => "']'".into(),
            TokenKind::Dot => "'.'".into(),
        }
    }

    /// The word, if this token is one.
    pub fn word(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Word(w) => Some(w),
            _ => None,
        }
    }

    /// Whether this token is the keyword `keyword` (keywords are case-insensitive).
    pub fn is_keyword(&self, keyword: &str) -> bool {
        self.word().is_some_and(|w| w.eq_ignore_ascii_case(keyword))
    }
}

/// The tokens of one input and the char position just past its end.
#[derive(Debug)]
pub(super) struct Tokens {
    pub tokens: Vec<Token>,
    pub end: usize,
}

/// Splits `input` into tokens. Rejects input longer than [`MAX_FILTER_LEN`] chars.
pub(super) fn lex(input: &str) -> Result<Tokens, FilterError> {
    if input.chars().nth(MAX_FILTER_LEN).is_some() {
        return Err(FilterError::new(
            MAX_FILTER_LEN,
            format!("input is longer than {MAX_FILTER_LEN} characters"),
        ));
    }
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(&c) = chars.get(pos) {
        let start = pos;
        let kind = match c {
            ' ' | '\t' | '\r' | '\n' => {
                pos += 1;
                continue;
            }
            '(' | ')' | '[' | ']' | '.' => {
                pos += 1;
                match c {
                    '(' => TokenKind::LParen,
                    ')' => TokenKind::RParen,
                    '[' => TokenKind::LBracket,
                    ']' => TokenKind::RBracket,
                    _ => TokenKind::Dot,
                }
            }
            '"' => {
                let (value, next) = lex_string(&chars, start)?;
                pos = next;
                TokenKind::Str(value)
            }
            '-' | '0'..='9' => {
                let (text, next) = take_while(&chars, start, |c| {
                    c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')
                });
                pos = next;
                let number = text
                    .parse::<serde_json::Number>()
                    .map_err(|_| FilterError::new(start, format!("invalid number '{text}'")))?;
                TokenKind::Num(number)
            }
            c if c.is_ascii_alphabetic() || c == '$' => {
                let (text, next) = take_while(&chars, start, |c| {
                    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '$')
                });
                pos = next;
                TokenKind::Word(text)
            }
            other => {
                return Err(FilterError::new(
                    start,
                    format!("unexpected character '{other}'"),
                ))
            }
        };
        tokens.push(Token {
            kind,
            position: start,
        });
    }
    Ok(Tokens {
        tokens,
        end: chars.len(),
    })
}

/// The run of chars from `start` that satisfy `keep`, and the position after it.
fn take_while(chars: &[char], start: usize, keep: impl Fn(char) -> bool) -> (String, usize) {
    let rest = chars.get(start..).unwrap_or_default();
    let len = rest.iter().take_while(|&&c| keep(c)).count();
    (rest.iter().take(len).collect(), start + len)
}

/// The string literal whose opening quote is at `start`, decoded like JSON, and the position
/// after its closing quote.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let unterminated =
        || FilterError::new(start, "unterminated string: the closing '\"' is missing");
    let mut pos = start + 1;
    loop {
        match chars.get(pos) {
            None => return Err(unterminated()),
            Some('"') => break,
            Some('\\') => match chars.get(pos + 1) {
                Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => pos += 2,
                Some('u') => {
                    let hex =
                        (2..6).all(|k| chars.get(pos + k).is_some_and(char::is_ascii_hexdigit));
                    if !hex {
                        return Err(FilterError::new(
                            pos,
                            "invalid escape: '\\u' must be followed by four hex digits",
                        ));
                    }
                    pos += 6;
                }
                Some(c) => {
                    return Err(FilterError::new(
                        pos,
                        format!("invalid escape '\\{c}' in string"),
                    ))
                }
                None => return Err(unterminated()),
            },
            Some(&c) if u32::from(c) < 0x20 => {
                return Err(FilterError::new(
                    pos,
                    format!(
                        "control character U+{:04X} in string; write it as an escape",
                        u32::from(c)
                    ),
                ))
            }
            Some(_) => pos += 1,
        }
    }
    let raw: String = chars.get(start..=pos).unwrap_or_default().iter().collect();
    // The escapes are checked above; what serde_json can still reject is a `\u` escape that
    // encodes half of a surrogate pair.
    let value = serde_json::from_str::<String>(&raw).map_err(|_| {
        FilterError::new(
            start,
            "invalid string: a '\\u' escape encodes an unpaired surrogate",
        )
    })?;
    Ok((value, pos + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        lex(input)
            .map(|t| t.tokens.into_iter().map(|t| t.kind).collect())
            .unwrap_or_default()
    }

    fn lex_err(input: &str) -> FilterError {
        lex(input)
            .err()
            .unwrap_or_else(|| FilterError::new(usize::MAX, "lexed without error"))
    }

    fn word(w: &str) -> TokenKind {
        TokenKind::Word(w.into())
    }

    #[test]
    fn rfc7644_3_4_2_2_value_path_tokens() {
        assert_eq!(
            kinds("emails[type eq \"work\"].value"),
            vec![
                word("emails"),
                TokenKind::LBracket,
                word("type"),
                word("eq"),
                TokenKind::Str("work".into()),
                TokenKind::RBracket,
                TokenKind::Dot,
                word("value"),
            ]
        );
    }

    #[test]
    fn urn_with_version_dots_is_one_word() {
        assert_eq!(
            kinds("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr"),
            vec![
                word("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
                word("pr"),
            ]
        );
    }

    #[test]
    fn ref_sub_attribute_is_a_word() {
        assert_eq!(kinds("members.$ref"), vec![word("members.$ref")]);
    }

    #[test]
    fn strings_decode_json_escapes() {
        assert_eq!(
            kinds(r#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#),
            vec![TokenKind::Str("a\"b\\c/d\n\té😀".into())]
        );
    }

    #[test]
    fn numbers_follow_json() {
        let nums: Vec<TokenKind> = ["42", "-7", "3.25", "1e3", "-2.5E-2"]
            .iter()
            .filter_map(|n| n.parse::<serde_json::Number>().ok())
            .map(TokenKind::Num)
            .collect();
        assert_eq!(nums.len(), 5);
        assert_eq!(kinds("42 -7 3.25 1e3 -2.5E-2"), nums);
    }

    #[test]
    fn positions_are_char_offsets_and_whitespace_is_tolerated() {
        let positions: Vec<usize> = lex("a eq \"Müller\"\t\t  and  b pr")
            .map(|t| t.tokens.iter().map(|t| t.position).collect())
            .unwrap_or_default();
        assert_eq!(positions, vec![0, 2, 5, 17, 22, 24]);
    }

    #[test]
    fn unterminated_string_is_reported_at_its_opening_quote() {
        let err = lex_err("userName eq \"bjensen");
        assert_eq!(err.position, 12);
        assert!(err.message.contains("unterminated string"), "{err:?}");
    }

    #[test]
    fn string_ending_in_backslash_is_unterminated() {
        assert!(lex_err(r#"a eq "x\"#).message.contains("unterminated"));
    }

    #[test]
    fn invalid_escape_is_reported_at_the_backslash() {
        let err = lex_err(r#"a eq "x\qy""#);
        assert_eq!(err.position, 7);
        assert!(err.message.contains("invalid escape '\\q'"), "{err:?}");
        assert!(lex_err(r#"a eq "\u12G4""#)
            .message
            .contains("four hex digits"));
    }

    #[test]
    fn unpaired_surrogate_is_rejected() {
        assert!(lex_err(r#"a eq "\ud83d""#).message.contains("surrogate"));
    }

    #[test]
    fn raw_control_character_in_string_is_rejected() {
        assert!(lex_err("a eq \"x\u{1}\"")
            .message
            .contains("control character"));
    }

    #[test]
    fn invalid_number_is_rejected() {
        let err = lex_err("a eq 1.2.3");
        assert_eq!(err.position, 5);
        assert!(err.message.contains("invalid number '1.2.3'"));
        assert!(lex_err("a eq -").message.contains("invalid number"));
    }

    #[test]
    fn unexpected_character_is_rejected() {
        let err = lex_err("userName eq 'x'");
        assert_eq!(err.position, 12);
        assert_eq!(err.message, "unexpected character '''");
    }

    #[test]
    fn too_long_input_is_rejected_before_lexing() {
        let long = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
        let err = lex_err(&long);
        assert_eq!(err.position, MAX_FILTER_LEN);
        assert!(err.message.contains("longer than 4096"));
        let fits = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN - 7));
        assert!(lex(&fits).is_ok());
    }
}
