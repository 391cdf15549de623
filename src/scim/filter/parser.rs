//! Parser: tokens → [`Filter`] and [`PatchPath`] (RFC 7644 §3.4.2.2 and §3.5.2).
//!
//! Recursive descent over the RFC ABNF, with precedence `not` > `and` > `or`:
//!
//! ```text
//! filter  = and *("or" and)
//! and     = unary *("and" unary)
//! unary   = "not" "(" filter ")" / "(" filter ")" / attrPath "[" filter "]" / attrExp
//! attrExp = attrPath "pr" / attrPath compareOp compValue
//! PATH    = attrPath / attrPath "[" filter "]" ["." subAttr]
//! ```
//!
//! `and`/`or` chains are built left-associative by loops; the parser recurses only into
//! parentheses, `not` and `[...]`. Both that nesting and the depth of the AST it builds are capped
//! at [`MAX_FILTER_DEPTH`], so no input can exhaust the stack here or in the evaluator.

use super::ast::{
    AttrPath, CompValue, CompareOp, Filter, FilterError, PatchPath, MAX_FILTER_DEPTH,
};
use super::lexer::{lex, Token, TokenKind};

/// Parses a `filter` query parameter or body member (RFC 7644 §3.4.2.2).
///
/// # Errors
///
/// A [`FilterError`] with the char position and cause when `input` is empty, longer than
/// [`super::MAX_FILTER_LEN`], nested deeper than [`MAX_FILTER_DEPTH`], or not a filter.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(input, "empty filter")?;
    let node = parser.filter(Scope::Resource)?;
    parser.expect_end_of_filter()?;
    Ok(node.filter)
}

/// Parses a PATCH operation's `path` (RFC 7644 §3.5.2). Callers report failures as 400
/// `invalidPath`, see [`FilterError::into_invalid_path`].
///
/// # Errors
///
/// A [`FilterError`] with the char position and cause, under the same limits as
/// [`parse_filter`].
pub fn parse_patch_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut parser = Parser::new(input, "empty path")?;
    let (attr, text) = parser.attr_path(Scope::Resource)?;
    let mut filter = None;
    let mut sub_attr = None;
    if let Some(open) = parser.eat(&TokenKind::LBracket) {
        filter = Some(parser.value_filter(&attr, &text, open)?.filter);
        if parser.eat(&TokenKind::Dot).is_some() {
            sub_attr = Some(parser.sub_attr_after_dot()?);
        }
    }
    if let Some(token) = parser.peek() {
        return Err(FilterError::new(
            token.position,
            format!("unexpected {} after the end of the path", token.describe()),
        ));
    }
    Ok(PatchPath {
        attr,
        filter,
        sub_attr,
    })
}

/// Where an attribute path stands: at the top level, or inside `[...]` where it names a
/// sub-attribute of the element (RFC 7644 §3.4.2.2 `valFilter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Resource,
    Element,
}

/// A filter and the depth of its AST: 0 for an attribute expression, one more for each
/// `and`, `or`, `not` or value path above it.
struct Node {
    filter: Filter,
    depth: usize,
}

impl Node {
    fn leaf(filter: Filter) -> Node {
        Node { filter, depth: 0 }
    }

    /// `filter` built over a child of depth `child_depth`, unless that is too deep.
    fn over(filter: Filter, child_depth: usize, position: usize) -> Result<Node, FilterError> {
        let depth = child_depth + 1;
        if depth > MAX_FILTER_DEPTH {
            return Err(too_deep(position));
        }
        Ok(Node { filter, depth })
    }
}

/// Joins a chain of `and` (or `or`) terms into a balanced tree: the operators are associative,
/// so a long chain such as `id eq "1" or … or id eq "500"` stays shallow (depth grows with
/// log2 of its length), while up to three terms keep the left-nested shape.
/// `positions[i]` is where the operator between `terms[i]` and `terms[i + 1]` stood.
fn balanced(
    mut terms: Vec<Node>,
    positions: &[usize],
    join: fn(Box<Filter>, Box<Filter>) -> Filter,
) -> Result<Node, FilterError> {
    if terms.len() <= 1 {
        return terms.pop().ok_or_else(|| FilterError {
            position: 0,
            message: "expected a filter".into(),
        });
    }
    let mid = terms.len().div_ceil(2);
    let right_terms = terms.split_off(mid);
    let position = positions.get(mid - 1).copied().unwrap_or(0);
    let left = balanced(terms, positions.get(..mid - 1).unwrap_or_default(), join)?;
    let right = balanced(right_terms, positions.get(mid..).unwrap_or_default(), join)?;
    let depth = left.depth.max(right.depth);
    Node::over(
        join(Box::new(left.filter), Box::new(right.filter)),
        depth,
        position,
    )
}

fn too_deep(position: usize) -> FilterError {
    FilterError::new(
        position,
        format!(
            "filter is nested too deeply: at most {MAX_FILTER_DEPTH} levels of parentheses, \
             'not', '[...]' and 'and'/'or' terms are allowed"
        ),
    )
}

struct Parser {
    tokens: Vec<Token>,
    /// Index of the next token.
    next: usize,
    /// Char position just past the input, for errors at its end.
    end: usize,
    /// Parentheses, `not` and `[...]` currently open.
    nesting: usize,
}

impl Parser {
    fn new(input: &str, empty: &str) -> Result<Parser, FilterError> {
        let lexed = lex(input)?;
        if lexed.tokens.is_empty() {
            return Err(FilterError::new(0, empty));
        }
        Ok(Parser {
            tokens: lexed.tokens,
            next: 0,
            end: lexed.end,
            nesting: 0,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn bump(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        if token.is_some() {
            self.next += 1;
        }
        token
    }

    /// Consumes the next token if it is `kind`, returning its position.
    fn eat(&mut self, kind: &TokenKind) -> Option<usize> {
        let position = self.peek().filter(|t| &t.kind == kind)?.position;
        self.next += 1;
        Some(position)
    }

    /// Consumes the next token if it is `keyword` (any case), returning its position.
    fn eat_keyword(&mut self, keyword: &str) -> Option<usize> {
        let position = self.peek().filter(|t| t.is_keyword(keyword))?.position;
        self.next += 1;
        Some(position)
    }

    /// Runs `parse` one nesting level deeper; `position` is the token that opened the level.
    fn nested(
        &mut self,
        position: usize,
        parse: impl FnOnce(&mut Parser) -> Result<Node, FilterError>,
    ) -> Result<Node, FilterError> {
        if self.nesting >= MAX_FILTER_DEPTH {
            return Err(too_deep(position));
        }
        self.nesting += 1;
        let node = parse(self);
        self.nesting -= 1;
        node
    }

    /// `filter = and *("or" and)`
    fn filter(&mut self, scope: Scope) -> Result<Node, FilterError> {
        let mut terms = vec![self.and(scope)?];
        let mut positions = Vec::new();
        while let Some(position) = self.eat_keyword("or") {
            positions.push(position);
            terms.push(self.and(scope)?);
        }
        balanced(terms, &positions, Filter::Or)
    }

    /// `and = unary *("and" unary)`
    fn and(&mut self, scope: Scope) -> Result<Node, FilterError> {
        let mut terms = vec![self.unary(scope)?];
        let mut positions = Vec::new();
        while let Some(position) = self.eat_keyword("and") {
            positions.push(position);
            terms.push(self.unary(scope)?);
        }
        balanced(terms, &positions, Filter::And)
    }

    /// `unary = "not" "(" filter ")" / "(" filter ")" / valuePath / attrExp`
    fn unary(&mut self, scope: Scope) -> Result<Node, FilterError> {
        let Some(token) = self.peek().cloned() else {
            return Err(FilterError::new(
                self.end,
                "unexpected end of input: expected an attribute path, '(' or 'not'",
            ));
        };
        match &token.kind {
            TokenKind::LParen => {
                self.next += 1;
                let inner = self.nested(token.position, |p| p.filter(scope))?;
                self.close(TokenKind::RParen, token.position)?;
                Ok(inner)
            }
            // RFC 7644 §3.4.2.2: `*1"not" "(" valFilter ")"`, the parentheses are not optional.
            TokenKind::Word(w) if w.eq_ignore_ascii_case("not") => {
                self.next += 1;
                let Some(open) = self.eat(&TokenKind::LParen) else {
                    return Err(FilterError::new(
                        self.here(),
                        format!(
                            "'{w}' must be followed by a filter in parentheses, as in \
                             'not (title pr)'; found {}",
                            self.found()
                        ),
                    ));
                };
                let inner = self.nested(open, |p| p.filter(scope))?;
                self.close(TokenKind::RParen, open)?;
                Node::over(
                    Filter::Not(Box::new(inner.filter)),
                    inner.depth,
                    token.position,
                )
            }
            TokenKind::Word(_) => self.attr_exp(scope),
            _ => Err(FilterError::new(
                token.position,
                format!(
                    "expected an attribute path, '(' or 'not', found {}",
                    token.describe()
                ),
            )),
        }
    }

    /// `attrPath "pr" / attrPath compareOp compValue / attrPath "[" filter "]"`
    fn attr_exp(&mut self, scope: Scope) -> Result<Node, FilterError> {
        let (path, text) = self.attr_path(scope)?;
        let Some(token) = self.bump() else {
            return Err(FilterError::new(
                self.end,
                format!("unexpected end of input: expected a comparison operator after '{text}'"),
            ));
        };
        if token.kind == TokenKind::LBracket {
            if scope == Scope::Element {
                return Err(FilterError::new(
                    token.position,
                    "value filters cannot be nested: '[' inside '[...]'",
                ));
            }
            let inner = self.value_filter(&path, &text, token.position)?;
            let filter = Filter::ValuePath {
                path,
                filter: Box::new(inner.filter),
            };
            return Node::over(filter, inner.depth, token.position);
        }
        if token.is_keyword("pr") {
            if let Some(value) = self.peek().filter(|t| is_value(t)) {
                return Err(FilterError::new(
                    value.position,
                    format!("'pr' takes no value, found {}", value.describe()),
                ));
            }
            return Ok(Node::leaf(Filter::Present(path)));
        }
        let (Some(op_text), Some(op)) =
            (token.word(), token.word().and_then(CompareOp::from_keyword))
        else {
            return Err(FilterError::new(
                token.position,
                format!(
                    "expected a comparison operator after '{text}', found {}",
                    token.describe()
                ),
            ));
        };
        let value = self.comp_value(op, op_text)?;
        Ok(Node::leaf(Filter::Compare { path, op, value }))
    }

    /// The `valFilter` after a `[` at `open`, up to and including its `]`.
    fn value_filter(
        &mut self,
        path: &AttrPath,
        text: &str,
        open: usize,
    ) -> Result<Node, FilterError> {
        if path.sub_attr.is_some() {
            return Err(FilterError::new(
                open,
                format!(
                    "'[' must follow a multi-valued attribute, not the sub-attribute path '{text}'"
                ),
            ));
        }
        let inner = self.nested(open, |p| p.filter(Scope::Element))?;
        self.close(TokenKind::RBracket, open)?;
        Ok(inner)
    }

    /// `compValue = false / null / true / number / string` (RFC 7644 §3.4.2.2).
    fn comp_value(&mut self, op: CompareOp, op_text: &str) -> Result<CompValue, FilterError> {
        let Some(token) = self.bump() else {
            return Err(FilterError::new(
                self.end,
                format!("unexpected end of input: expected a value after '{op_text}'"),
            ));
        };
        let found = token.describe();
        let value = match token.kind {
            TokenKind::Str(s) => CompValue::Str(s),
            TokenKind::Num(n) => CompValue::Num(n),
            TokenKind::Word(w) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            TokenKind::Word(w) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            TokenKind::Word(w) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            _ => {
                return Err(FilterError::new(
                    token.position,
                    format!(
                        "expected a value (a string in double quotes, a number, true, false or \
                         null) after '{op_text}', found {found}"
                    ),
                ))
            }
        };
        // RFC 7644 §3.4.2.2: ordering a Boolean "SHALL cause a failed response"; substring and
        // ordering operators have no meaning for booleans or null either.
        let equality = matches!(op, CompareOp::Eq | CompareOp::Ne);
        if !equality && matches!(value, CompValue::Bool(_) | CompValue::Null) {
            return Err(FilterError::new(
                token.position,
                format!("'{op_text}' cannot compare with {found}; only 'eq' and 'ne' can"),
            ));
        }
        Ok(value)
    }

    /// Consumes one word and reads it as an attribute path; also returns the word.
    fn attr_path(&mut self, scope: Scope) -> Result<(AttrPath, String), FilterError> {
        let Some(token) = self.bump() else {
            return Err(FilterError::new(
                self.end,
                "unexpected end of input: expected an attribute path",
            ));
        };
        let TokenKind::Word(text) = token.kind else {
            return Err(FilterError::new(
                token.position,
                format!("expected an attribute path, found {}", token.describe()),
            ));
        };
        let path = split_attr_path(&text, token.position, scope)?;
        Ok((path, text))
    }

    /// The name after `].` in a PATCH path.
    fn sub_attr_after_dot(&mut self) -> Result<String, FilterError> {
        let Some(token) = self.bump() else {
            return Err(FilterError::new(
                self.end,
                "unexpected end of input: expected a sub-attribute name after '.'",
            ));
        };
        let TokenKind::Word(name) = token.kind else {
            return Err(FilterError::new(
                token.position,
                format!(
                    "expected a sub-attribute name after '.', found {}",
                    token.describe()
                ),
            ));
        };
        check_name(&name, token.position, true)?;
        Ok(name)
    }

    /// Consumes the `)` or `]` that ends the group opened at `open_position`.
    fn close(&mut self, kind: TokenKind, open_position: usize) -> Result<(), FilterError> {
        let (open, close) = match kind {
            TokenKind::RBracket => ('[', ']'),
            _ => ('(', ')'),
        };
        match self.bump() {
            Some(token) if token.kind == kind => Ok(()),
            Some(token) => Err(FilterError::new(
                token.position,
                format!(
                    "expected 'and', 'or' or '{close}' to close the '{open}' at position \
                     {open_position}, found {}",
                    token.describe()
                ),
            )),
            None => Err(FilterError::new(
                self.end,
                format!("missing '{close}' to close the '{open}' at position {open_position}"),
            )),
        }
    }

    fn expect_end_of_filter(&self) -> Result<(), FilterError> {
        let Some(token) = self.peek() else {
            return Ok(());
        };
        let message = match token.kind {
            TokenKind::Dot => "a sub-attribute after ']' is only allowed in PATCH paths; in a \
                               filter, test the sub-attribute inside the brackets"
                .to_string(),
            TokenKind::RParen => "found ')' without a matching '('".to_string(),
            _ => format!(
                "expected 'and', 'or' or the end of the filter, found {}",
                token.describe()
            ),
        };
        Err(FilterError::new(token.position, message))
    }

    /// Position of the next token, or of the end of the input.
    fn here(&self) -> usize {
        self.peek().map_or(self.end, |t| t.position)
    }

    /// How an error message names the next token.
    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the input".to_string(), Token::describe)
    }
}

/// Whether `token` is a `compValue`, for the "`pr` takes no value" error.
fn is_value(token: &Token) -> bool {
    matches!(token.kind, TokenKind::Str(_) | TokenKind::Num(_))
        || ["true", "false", "null"]
            .iter()
            .any(|k| token.is_keyword(k))
}

/// Splits the word `text` at `position` into URN, attribute and sub-attribute.
///
/// The URN is everything up to the last ':' (RFC 7644 §3.10), so
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value` is the attribute
/// `manager.value` of the enterprise extension. Inside `[...]` a path names one sub-attribute of
/// the element, so it takes neither URN nor '.' (RFC 7643 §2.3.8: sub-attributes are not complex).
fn split_attr_path(text: &str, position: usize, scope: Scope) -> Result<AttrPath, FilterError> {
    // The lexer only puts ASCII in words, so byte offsets below are char offsets.
    let (urn, rest, rest_at) = match text.rsplit_once(':') {
        Some((urn, rest)) => (Some(urn), rest, urn.len() + 1),
        None => (None, text, 0),
    };
    if urn.is_some() && scope == Scope::Element {
        return Err(FilterError::new(
            position,
            format!(
                "'{text}': paths inside '[...]' are relative to the element and take no schema URN"
            ),
        ));
    }
    if urn.is_some_and(|u| !u.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))) {
        return Err(FilterError::new(
            position,
            format!(
                "'{text}' is not an attribute path: only a schema URN ('urn:…') may contain ':'"
            ),
        ));
    }
    let (attr, sub_attr) = match rest.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (rest, None),
    };
    let attr_at = position + rest_at;
    check_name(attr, attr_at, scope == Scope::Element)?;
    if let Some(sub) = sub_attr {
        let dot_at = attr_at + attr.len();
        if scope == Scope::Element {
            return Err(FilterError::new(
                dot_at,
                format!("'{text}': inside '[...]' a path names one sub-attribute of the element, without '.'"),
            ));
        }
        if let Some(second_dot) = sub.find('.') {
            return Err(FilterError::new(
                dot_at + 1 + second_dot,
                format!("'{text}' has too many '.': a path is attribute or attribute.subAttribute"),
            ));
        }
        check_name(sub, dot_at + 1, true)?;
    }
    Ok(AttrPath {
        urn: urn.map(String::from),
        attr: attr.to_string(),
        sub_attr: sub_attr.map(String::from),
    })
}

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA` (RFC 7644 §3.10);
/// `$ref` too where a sub-attribute may stand (RFC 7643 §2.3.7).
fn check_name(name: &str, position: usize, allow_ref: bool) -> Result<(), FilterError> {
    if allow_ref && name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        return Ok(());
    }
    let message = if name.is_empty() {
        "missing attribute name".to_string()
    } else {
        format!(
            "'{name}' is not a valid attribute name: it must start with a letter and contain only \
             letters, digits, '-' and '_'"
        )
    };
    Err(FilterError::new(position, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::MAX_FILTER_LEN;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn attr(name: &str) -> AttrPath {
        AttrPath {
            urn: None,
            attr: name.into(),
            sub_attr: None,
        }
    }

    fn sub(name: &str, sub_attr: &str) -> AttrPath {
        AttrPath {
            sub_attr: Some(sub_attr.into()),
            ..attr(name)
        }
    }

    fn with_urn(urn: &str, path: AttrPath) -> AttrPath {
        AttrPath {
            urn: Some(urn.into()),
            ..path
        }
    }

    fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { path, op, value }
    }

    fn s(value: &str) -> CompValue {
        CompValue::Str(value.into())
    }

    fn num(n: i64) -> CompValue {
        CompValue::Num(n.into())
    }

    fn pr(path: AttrPath) -> Filter {
        Filter::Present(path)
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn value_path(path: AttrPath, filter: Filter) -> Filter {
        Filter::ValuePath {
            path,
            filter: Box::new(filter),
        }
    }

    fn filter_err(input: &str) -> FilterError {
        parse_filter(input)
            .err()
            .unwrap_or_else(|| FilterError::new(usize::MAX, "parsed without error"))
    }

    fn path_err(input: &str) -> FilterError {
        parse_patch_path(input)
            .err()
            .unwrap_or_else(|| FilterError::new(usize::MAX, "parsed without error"))
    }

    fn assert_err(err: &FilterError, position: usize, message_part: &str) {
        assert_eq!(err.position, position, "{err:?}");
        assert!(err.message.contains(message_part), "{err:?}");
    }

    #[test]
    fn rfc7644_3_4_2_2_example_filters_parse() {
        let modified = || sub("meta", "lastModified");
        let stamp = || s("2011-05-13T04:42:34Z");
        let emails_example = || {
            or(
                cmp(attr("emails"), CompareOp::Co, s("example.com")),
                cmp(sub("emails", "value"), CompareOp::Co, s("example.org")),
            )
        };
        let work_example_com = || {
            and(
                cmp(attr("type"), CompareOp::Eq, s("work")),
                cmp(attr("value"), CompareOp::Co, s("@example.com")),
            )
        };
        let cases = [
            (
                r#"userName eq "bjensen""#,
                cmp(attr("userName"), CompareOp::Eq, s("bjensen")),
            ),
            (
                r#"name.familyName co "O'Malley""#,
                cmp(sub("name", "familyName"), CompareOp::Co, s("O'Malley")),
            ),
            (
                r#"userName sw "J""#,
                cmp(attr("userName"), CompareOp::Sw, s("J")),
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                cmp(
                    with_urn(
                        "urn:ietf:params:scim:schemas:core:2.0:User",
                        attr("userName"),
                    ),
                    CompareOp::Sw,
                    s("J"),
                ),
            ),
            ("title pr", pr(attr("title"))),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                cmp(modified(), CompareOp::Gt, stamp()),
            ),
            (
                r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
                cmp(modified(), CompareOp::Ge, stamp()),
            ),
            (
                r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
                cmp(modified(), CompareOp::Lt, stamp()),
            ),
            (
                r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
                cmp(modified(), CompareOp::Le, stamp()),
            ),
            (
                r#"title pr and userType eq "Employee""#,
                and(
                    pr(attr("title")),
                    cmp(attr("userType"), CompareOp::Eq, s("Employee")),
                ),
            ),
            (
                r#"title pr or userType eq "Intern""#,
                or(
                    pr(attr("title")),
                    cmp(attr("userType"), CompareOp::Eq, s("Intern")),
                ),
            ),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                cmp(attr("schemas"), CompareOp::Eq, s(ENTERPRISE)),
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                and(
                    cmp(attr("userType"), CompareOp::Eq, s("Employee")),
                    emails_example(),
                ),
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                and(
                    cmp(attr("userType"), CompareOp::Ne, s("Employee")),
                    not(emails_example()),
                ),
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                and(
                    cmp(attr("userType"), CompareOp::Eq, s("Employee")),
                    cmp(sub("emails", "type"), CompareOp::Eq, s("work")),
                ),
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                and(
                    cmp(attr("userType"), CompareOp::Eq, s("Employee")),
                    value_path(attr("emails"), work_example_com()),
                ),
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                or(
                    value_path(attr("emails"), work_example_com()),
                    value_path(
                        attr("ims"),
                        and(
                            cmp(attr("type"), CompareOp::Eq, s("xmpp")),
                            cmp(attr("value"), CompareOp::Co, s("@foo.com")),
                        ),
                    ),
                ),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_filter(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn rfc7644_3_4_2_2_precedence_not_over_and_over_or() {
        let (a, b, c) = (|| pr(attr("a")), || pr(attr("b")), || pr(attr("c")));
        let cases = [
            ("a pr or b pr and c pr", or(a(), and(b(), c()))),
            ("a pr and b pr or c pr", or(and(a(), b()), c())),
            ("(a pr or b pr) and c pr", and(or(a(), b()), c())),
            ("not (a pr) and b pr", and(not(a()), b())),
            ("a pr or not (b pr) and c pr", or(a(), and(not(b()), c()))),
            ("a pr and b pr and c pr", and(and(a(), b()), c())),
            ("a pr or b pr or c pr", or(or(a(), b()), c())),
            ("((a pr))", a()),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_filter(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn rfc7644_3_4_2_2_operators_are_case_insensitive() {
        let eq_x = || cmp(attr("userName"), CompareOp::Eq, s("x"));
        assert_eq!(parse_filter(r#"userName EQ "x""#), Ok(eq_x()));
        assert_eq!(parse_filter(r#"userName Eq "x""#), Ok(eq_x()));
        assert_eq!(
            parse_filter(r#"title PR AND userName eq "x" OR NOT (title Pr)"#),
            Ok(or(and(pr(attr("title")), eq_x()), not(pr(attr("title")))))
        );
        assert_eq!(
            parse_filter("active eq TRUE"),
            Ok(cmp(attr("active"), CompareOp::Eq, CompValue::Bool(true)))
        );
        assert_eq!(
            parse_filter("nickName Ne Null"),
            Ok(cmp(attr("nickName"), CompareOp::Ne, CompValue::Null))
        );
    }

    #[test]
    fn every_comparison_operator_parses() {
        for (word, op) in [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ] {
            assert_eq!(op.as_str(), word);
            assert_eq!(
                parse_filter(&format!("x {word} 1")),
                Ok(cmp(attr("x"), op, num(1)))
            );
        }
    }

    #[test]
    fn attribute_names_keep_the_clients_spelling() {
        assert_eq!(
            parse_filter(r#"USERNAME eq "x""#),
            Ok(cmp(attr("USERNAME"), CompareOp::Eq, s("x")))
        );
    }

    #[test]
    fn values_are_strings_numbers_booleans_and_null() {
        let value = |input: &str| match parse_filter(input) {
            Ok(Filter::Compare { value, .. }) => Some(value),
            _ => None,
        };
        assert_eq!(value(r#"a eq "say \"hi\"\n""#), Some(s("say \"hi\"\n")));
        assert_eq!(value("a eq -42"), Some(num(-42)));
        let decimal = "2.5e3".parse().ok().map(CompValue::Num);
        assert_eq!(value("a gt 2.5e3"), decimal);
        assert_eq!(value("a eq false"), Some(CompValue::Bool(false)));
        assert_eq!(value("a eq null"), Some(CompValue::Null));
    }

    #[test]
    fn rfc7643_enterprise_extension_paths_split_at_the_last_colon() {
        assert_eq!(
            parse_filter(&format!(r#"{ENTERPRISE}:department eq "Sales""#)),
            Ok(cmp(
                with_urn(ENTERPRISE, attr("department")),
                CompareOp::Eq,
                s("Sales")
            ))
        );
        assert_eq!(
            parse_filter(&format!("{ENTERPRISE}:manager.value pr")),
            Ok(pr(with_urn(ENTERPRISE, sub("manager", "value"))))
        );
    }

    #[test]
    fn rfc7643_2_3_7_ref_is_allowed_as_a_sub_attribute() {
        assert_eq!(
            parse_filter(r#"members[$ref eq "https://example.com/v2/Users/1"]"#),
            Ok(value_path(
                attr("members"),
                cmp(
                    attr("$ref"),
                    CompareOp::Eq,
                    s("https://example.com/v2/Users/1")
                )
            ))
        );
        assert_eq!(
            parse_filter("members.$ref pr"),
            Ok(pr(sub("members", "$ref")))
        );
    }

    #[test]
    fn whitespace_between_tokens_is_tolerated() {
        assert_eq!(
            parse_filter("  title \t pr   and\t( userName  eq  \"x\" )  "),
            Ok(and(
                pr(attr("title")),
                cmp(attr("userName"), CompareOp::Eq, s("x"))
            ))
        );
    }

    #[test]
    fn rfc7644_3_5_2_patch_paths_parse() {
        let cases = [
            (
                r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
                PatchPath {
                    attr: attr("members"),
                    filter: Some(cmp(
                        attr("value"),
                        CompareOp::Eq,
                        s("2819c223-7f76-453a-919d-413861904646"),
                    )),
                    sub_attr: None,
                },
            ),
            (
                r#"emails[type eq "work"].value"#,
                PatchPath {
                    attr: attr("emails"),
                    filter: Some(cmp(attr("type"), CompareOp::Eq, s("work"))),
                    sub_attr: Some("value".into()),
                },
            ),
            (
                r#"addresses[type eq "work"].streetAddress"#,
                PatchPath {
                    attr: attr("addresses"),
                    filter: Some(cmp(attr("type"), CompareOp::Eq, s("work"))),
                    sub_attr: Some("streetAddress".into()),
                },
            ),
            (
                "name.familyName",
                PatchPath {
                    attr: sub("name", "familyName"),
                    filter: None,
                    sub_attr: None,
                },
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                PatchPath {
                    attr: with_urn(ENTERPRISE, attr("manager")),
                    filter: None,
                    sub_attr: None,
                },
            ),
            (
                "members",
                PatchPath {
                    attr: attr("members"),
                    filter: None,
                    sub_attr: None,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_patch_path(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn empty_input_is_rejected() {
        assert_err(&filter_err(""), 0, "empty filter");
        assert_err(&filter_err(" \t "), 0, "empty filter");
        assert_err(&path_err(""), 0, "empty path");
    }

    #[test]
    fn unterminated_string_is_rejected() {
        assert_err(
            &filter_err(r#"userName eq "bjensen"#),
            12,
            "unterminated string",
        );
    }

    #[test]
    fn unknown_operator_is_rejected() {
        let err = filter_err(r#"userName foo "x""#);
        assert_eq!(
            err.message,
            "expected a comparison operator after 'userName', found 'foo'"
        );
        assert_eq!(err.position, 9);
        assert_err(
            &filter_err("userName"),
            8,
            "expected a comparison operator after 'userName'",
        );
        assert_err(
            &filter_err(r#"userName = "x""#),
            9,
            "unexpected character '='",
        );
    }

    #[test]
    fn missing_value_is_rejected() {
        assert_err(
            &filter_err("userName eq"),
            11,
            "expected a value after 'eq'",
        );
        assert_err(&filter_err("userName eq and title pr"), 12, "found 'and'");
        assert_err(
            &filter_err("userName eq bjensen"),
            12,
            "a string in double quotes",
        );
    }

    #[test]
    fn rfc7644_3_4_2_2_ordering_a_boolean_is_rejected() {
        assert_err(
            &filter_err("active gt true"),
            10,
            "'gt' cannot compare with 'true'",
        );
        assert_err(
            &filter_err("title co null"),
            9,
            "'co' cannot compare with 'null'",
        );
    }

    #[test]
    fn missing_closing_paren_is_rejected() {
        assert_err(
            &filter_err("(title pr and userType pr"),
            25,
            "missing ')' to close the '(' at position 0",
        );
        assert_err(&filter_err("(title pr userType pr"), 10, "found 'userType'");
        assert_err(&filter_err("not (title pr"), 13, "missing ')'");
    }

    #[test]
    fn missing_closing_bracket_is_rejected() {
        assert_err(
            &filter_err(r#"emails[type eq "work""#),
            21,
            "missing ']' to close the '[' at position 6",
        );
        assert_err(&filter_err(r#"emails[type eq "work" )"#), 22, "']'");
        assert_err(&path_err(r#"emails[type eq "work""#), 21, "missing ']'");
        assert_err(&filter_err("emails[]"), 7, "found ']'");
    }

    #[test]
    fn trailing_input_is_rejected() {
        assert_err(&filter_err("title pr userType pr"), 9, "found 'userType'");
        assert_err(&filter_err(r#"title eq "x" "y""#), 13, "found string \"y\"");
        assert_err(&filter_err("title pr)"), 8, "without a matching '('");
        assert_err(&filter_err("title pr and"), 12, "unexpected end of input");
        assert_err(
            &path_err("name.familyName x"),
            16,
            "after the end of the path",
        );
    }

    #[test]
    fn too_long_input_is_rejected() {
        let long = format!("title eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
        assert_err(&filter_err(&long), MAX_FILTER_LEN, "longer than 4096");
        assert_err(&path_err(&long), MAX_FILTER_LEN, "longer than 4096");
    }

    #[test]
    fn too_deep_parentheses_are_rejected() {
        let deep = format!("{}title pr{}", "(".repeat(100), ")".repeat(100));
        assert_err(&filter_err(&deep), MAX_FILTER_DEPTH, "nested too deeply");
        let limit = MAX_FILTER_DEPTH;
        let fits = format!("{}title pr{}", "(".repeat(limit), ")".repeat(limit));
        assert_eq!(parse_filter(&fits), Ok(pr(attr("title"))));
    }

    #[test]
    fn too_deep_not_is_rejected() {
        let deep = format!("{}title pr{}", "not (".repeat(40), ")".repeat(40));
        assert_err(
            &filter_err(&deep),
            5 * MAX_FILTER_DEPTH + 4,
            "nested too deeply",
        );
    }

    #[test]
    fn long_chains_parse_shallow_and_overlong_input_is_rejected() {
        let chain = |terms: usize| vec!["a pr"; terms].join(" and ");
        // 10,000 terms: too long before the parser even starts.
        assert_err(&filter_err(&chain(10_000)), MAX_FILTER_LEN, "longer than");
        // 400 terms fit in the length limit; the balanced tree is 9 levels deep, not 400.
        let long = parse_filter(&chain(400)).unwrap();
        assert_eq!(ast_depth(&long), 9);
        let mixed = vec!["a pr and b pr"; 100].join(" or ");
        let mixed = parse_filter(&mixed).unwrap();
        assert!(ast_depth(&mixed) <= 9);
        // Every term is still there, in order.
        let ors = vec![r#"id eq "x""#; 300].join(" or ");
        let parsed = parse_filter(&ors).unwrap();
        assert_eq!(count_compares(&parsed), 300);
    }

    fn ast_depth(f: &Filter) -> usize {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => 1 + ast_depth(a).max(ast_depth(b)),
            Filter::Not(inner) | Filter::ValuePath { filter: inner, .. } => 1 + ast_depth(inner),
            _ => 0,
        }
    }

    fn count_compares(f: &Filter) -> usize {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => count_compares(a) + count_compares(b),
            Filter::Not(inner) | Filter::ValuePath { filter: inner, .. } => count_compares(inner),
            _ => 1,
        }
    }

    #[test]
    fn nested_value_path_is_rejected() {
        assert_err(
            &filter_err(r#"groups[members[value eq "1"] pr]"#),
            14,
            "value filters cannot be nested",
        );
    }

    #[test]
    fn not_without_parentheses_is_rejected() {
        assert_err(
            &filter_err(r#"not userName eq "x""#),
            4,
            "'not' must be followed by a filter in parentheses",
        );
        assert_err(&filter_err("not"), 3, "found the end of the input");
    }

    #[test]
    fn pr_with_a_value_is_rejected() {
        assert_err(&filter_err(r#"title pr "x""#), 9, "'pr' takes no value");
        assert_err(&filter_err("title pr true"), 9, "'pr' takes no value");
    }

    #[test]
    fn invalid_attribute_paths_are_rejected() {
        assert_err(&filter_err("1abc eq 1"), 0, "found number 1");
        assert_err(
            &filter_err("(1 eq 1)"),
            1,
            "expected an attribute path, '(' or 'not', found number 1",
        );
        assert_err(
            &filter_err(r#"user_name! eq "x""#),
            9,
            "unexpected character '!'",
        );
        assert_err(
            &filter_err(r#"$ref eq "x""#),
            0,
            "'$ref' is not a valid attribute name",
        );
        assert_err(&filter_err(r#"name.given.x eq "x""#), 10, "too many '.'");
        assert_err(&filter_err(r#"name. eq "x""#), 5, "missing attribute name");
        assert_err(&filter_err(r#"foo:bar eq "x""#), 0, "only a schema URN");
        assert_err(
            &filter_err(&format!(r#"{ENTERPRISE}: eq "x""#)),
            ENTERPRISE.len() + 1,
            "missing attribute name",
        );
        assert!(parse_filter(r#"name.given-Name_2 eq "x""#).is_ok());
    }

    #[test]
    fn value_filter_paths_are_relative_to_the_element() {
        assert_err(
            &filter_err(r#"emails[value.x eq "a"]"#),
            12,
            "one sub-attribute of the element",
        );
        assert_err(
            &filter_err(&format!("emails[{ENTERPRISE}:type pr]")),
            7,
            "take no schema URN",
        );
        assert_err(
            &filter_err(r#"name.givenName[value eq "x"]"#),
            14,
            "multi-valued attribute",
        );
    }

    #[test]
    fn sub_attribute_after_value_filter_is_patch_only() {
        assert_err(
            &filter_err(r#"emails[type eq "work"].value eq "x""#),
            22,
            "only allowed in PATCH paths",
        );
    }

    #[test]
    fn invalid_patch_paths_are_rejected() {
        assert_err(
            &path_err(r#""emails""#),
            0,
            "expected an attribute path, found string",
        );
        assert_err(
            &path_err(r#"emails[type eq "work"]."#),
            23,
            "expected a sub-attribute name",
        );
        assert_err(&path_err(r#"emails[type eq "work"].("#), 23, "found '('");
        assert_err(
            &path_err(r#"emails[type eq "work"].value.x"#),
            23,
            "not a valid attribute name",
        );
        assert_err(
            &path_err(r#"emails[type eq "work"] or"#),
            23,
            "after the end of the path",
        );
        assert_err(&path_err("not (emails pr)"), 4, "after the end of the path");
    }
}
