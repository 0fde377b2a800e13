//! The syntax of stored query parameter values (ebRS 3.0 string literals as
//! used by ITI-18, ITI TF-2 3.18.4.1.2.3): a string in single quotes with a
//! quote inside written twice (`'O''Brien'`), an unquoted integer
//! (`20221015151515`), or a parenthesized list of those (`('a', 'b')`).
//!
//! A parsed value is data: nothing in it is ever interpreted as query
//! syntax again. The parser is strict except for one documented leniency:
//! a single string literal whose closing quote is missing runs to the end
//! of the value (registries that strip quotes read it that way; the IPF
//! sample `iti18request.xml` has one). Inside a list, a missing quote is an
//! error, since the list's structure would then be ambiguous.

use std::fmt;

/// One literal of a query value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QueryLiteral {
    /// A quoted string, unescaped.
    Text(String),
    /// An unquoted integer (leading zeros are not kept).
    Number(i64),
}

impl QueryLiteral {
    pub fn text(s: impl Into<String>) -> Self {
        QueryLiteral::Text(s.into())
    }

    /// The literal as a string (a number's decimal digits).
    pub fn as_string(&self) -> String {
        match self {
            QueryLiteral::Text(s) => s.clone(),
            QueryLiteral::Number(n) => n.to_string(),
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            QueryLiteral::Text(s) => {
                out.push('\'');
                for c in s.chars() {
                    if c == '\'' {
                        out.push('\'');
                    }
                    out.push(c);
                }
                out.push('\'');
            }
            QueryLiteral::Number(n) => out.push_str(&n.to_string()),
        }
    }
}

/// The content of one `rim:Value` of a query parameter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QueryValue {
    Single(QueryLiteral),
    /// `(…, …)`: never empty.
    List(Vec<QueryLiteral>),
}

/// Why a query parameter value does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query value {value:?}: {problem} (at character {position})")]
pub struct QueryValueError {
    pub value: String,
    pub position: usize,
    pub problem: &'static str,
}

impl QueryValue {
    /// Parses one `rim:Value`.
    pub fn parse(raw: &str) -> Result<Self, QueryValueError> {
        let mut p = Parser {
            raw,
            chars: raw.char_indices().collect(),
            at: 0,
        };
        p.skip_ws();
        let value = if p.peek() == Some('(') {
            p.at += 1;
            let mut items = Vec::new();
            loop {
                p.skip_ws();
                items.push(p.literal(false)?);
                p.skip_ws();
                match p.peek() {
                    Some(',') => p.at += 1,
                    Some(')') => {
                        p.at += 1;
                        break;
                    }
                    Some(_) => return Err(p.error("expected ',' or ')' after a list item")),
                    None => return Err(p.error("the list has no closing ')'")),
                }
            }
            QueryValue::List(items)
        } else {
            QueryValue::Single(p.literal(true)?)
        };
        p.skip_ws();
        if p.peek().is_some() {
            return Err(p.error("unexpected text after the value"));
        }
        Ok(value)
    }

    /// The wire form.
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        match self {
            QueryValue::Single(l) => l.write(&mut out),
            QueryValue::List(items) => {
                out.push('(');
                for (i, l) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    l.write(&mut out);
                }
                out.push(')');
            }
        }
        out
    }

    /// The literals, one for a single value.
    pub fn literals(&self) -> &[QueryLiteral] {
        match self {
            QueryValue::Single(l) => std::slice::from_ref(l),
            QueryValue::List(items) => items,
        }
    }
}

impl fmt::Display for QueryValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

struct Parser<'a> {
    raw: &'a str,
    chars: Vec<(usize, char)>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).map(|&(_, c)| c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn error(&self, problem: &'static str) -> QueryValueError {
        QueryValueError {
            value: self.raw.to_owned(),
            position: self.at,
            problem,
        }
    }

    fn literal(&mut self, lenient_unterminated: bool) -> Result<QueryLiteral, QueryValueError> {
        match self.peek() {
            Some('\'') => {
                self.at += 1;
                let mut text = String::new();
                loop {
                    match self.peek() {
                        Some('\'')
                            if self.chars.get(self.at + 1).map(|&(_, c)| c) == Some('\'') =>
                        {
                            text.push('\'');
                            self.at += 2;
                        }
                        Some('\'') => {
                            self.at += 1;
                            return Ok(QueryLiteral::Text(text));
                        }
                        Some(c) => {
                            text.push(c);
                            self.at += 1;
                        }
                        None if lenient_unterminated => return Ok(QueryLiteral::Text(text)),
                        None => return Err(self.error("a string has no closing quote")),
                    }
                }
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.at;
                self.at += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
                let from = self.chars[start].0;
                let to = self.chars.get(self.at).map_or(self.raw.len(), |&(i, _)| i);
                self.raw[from..to]
                    .parse::<i64>()
                    .map(QueryLiteral::Number)
                    .map_err(|_| QueryValueError {
                        value: self.raw.to_owned(),
                        position: start,
                        problem: "not an integer that fits in 64 bits",
                    })
            }
            Some(_) => Err(self.error("expected a quoted string or an integer")),
            None => Err(self.error("expected a value, found the end")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_strings_numbers_and_lists() {
        assert_eq!(
            QueryValue::parse("'O''Brien'").unwrap(),
            QueryValue::Single(QueryLiteral::text("O'Brien"))
        );
        assert_eq!(
            QueryValue::parse(" 20221016161616 ").unwrap(),
            QueryValue::Single(QueryLiteral::Number(20221016161616))
        );
        assert_eq!(
            QueryValue::parse("( 'a' ,'b,c', 3)").unwrap(),
            QueryValue::List(vec![
                QueryLiteral::text("a"),
                QueryLiteral::text("b,c"),
                QueryLiteral::Number(3)
            ])
        );
    }

    #[test]
    fn the_ipf_injection_sample_is_one_string_of_data() {
        let raw = "'593603^^^&2.16.756.5.33.2.5.1.5.1&ISO''%20and%20611%3d611--%20";
        assert_eq!(
            QueryValue::parse(raw).unwrap(),
            QueryValue::Single(QueryLiteral::text(
                "593603^^^&2.16.756.5.33.2.5.1.5.1&ISO'%20and%20611%3d611--%20"
            ))
        );
    }

    #[test]
    fn refuses_broken_syntax() {
        for bad in [
            "",
            "  ",
            "()",
            "('a'",
            "('a' 'b')",
            "('a',)",
            "('a)",
            "abc",
            "'a' or 1=1",
            "'a'x",
            "99999999999999999999",
            "-",
            "(1,",
        ] {
            assert!(QueryValue::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    fn arb_literal() -> impl Strategy<Value = QueryLiteral> {
        prop_oneof![
            any::<String>().prop_map(QueryLiteral::Text),
            "[ '(),a-z0-9^&%-]{0,12}".prop_map(QueryLiteral::Text),
            any::<i64>().prop_map(QueryLiteral::Number),
        ]
    }

    fn arb_value() -> impl Strategy<Value = QueryValue> {
        prop_oneof![
            arb_literal().prop_map(QueryValue::Single),
            prop::collection::vec(arb_literal(), 1..5).prop_map(QueryValue::List),
        ]
    }

    proptest! {
        #[test]
        fn written_values_parse_back(v in arb_value()) {
            prop_assert_eq!(QueryValue::parse(&v.to_wire()).unwrap(), v);
        }

        #[test]
        fn parsing_anything_never_panics(s in any::<String>()) {
            let _ = QueryValue::parse(&s);
        }

        #[test]
        fn quotes_in_data_never_end_the_string(a in "[a-z']{0,8}", b in "[a-z' ]{0,8}") {
            let v = QueryValue::Single(QueryLiteral::Text(format!("{a}') or ('1'='1{b}")));
            let back = QueryValue::parse(&v.to_wire()).unwrap();
            prop_assert_eq!(back.literals().len(), 1);
            prop_assert_eq!(back, v);
        }
    }
}
