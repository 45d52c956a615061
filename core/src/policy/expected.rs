//! The functions a migration defines, read back from the generated SQL, so `check` can compare
//! what the database runs with what `migrate` would write today. Deriving them from the
//! generator (instead of keeping a copy) keeps the two in step whenever the bodies change.

use super::functions::functions_sql;
use crate::error::Result;
use crate::sql::Ident;

/// One function definition: as `migrate` writes it, or as `pg_proc` holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionDef {
    pub schema: String,
    pub name: String,
    /// The argument list as `pg_get_function_identity_arguments` prints it.
    pub args: String,
    /// The body between the dollar quotes (`pg_proc.prosrc`).
    pub source: String,
    pub security_definer: bool,
    /// `SET name = value` attributes in `pg_proc.proconfig` form (`name=value`).
    pub config: Vec<String>,
}

impl FunctionDef {
    /// Whether a live definition is this one. Whitespace is not significant in the comparison
    /// (line endings may be rewritten on the way), everything else is.
    #[must_use]
    pub fn matches(&self, live: &FunctionDef) -> bool {
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let settings = |c: &[String]| {
            let mut v: Vec<String> = c
                .iter()
                .map(|x| x.chars().filter(|c| !c.is_whitespace()).collect())
                .collect();
            v.sort();
            v
        };
        squash(&self.source) == squash(&live.source)
            && self.security_definer == live.security_definer
            && settings(&self.config) == settings(&live.config)
    }

    /// `schema.name`, for messages.
    #[must_use]
    pub fn label(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// The functions of a hardened migration into `schema` (default `public`).
///
/// # Errors
/// `InvalidIdentifier` when `schema` cannot be a schema name.
pub fn hardened_functions(schema: Option<&str>) -> Result<Vec<FunctionDef>> {
    let schema = Ident::new("schema", schema.unwrap_or("public"))?;
    Ok(parse_functions(&functions_sql(&schema, true)))
}

/// `"a"` or `a` → `a` (our generator only writes plain or double-quoted identifiers).
fn unquote(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_owned(),
    }
}

/// Splits `"schema"."name"` at the dot outside quotes.
fn split_name(q: &str) -> (String, String) {
    let mut quoted = false;
    for (i, c) in q.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => return (unquote(&q[..i]), unquote(&q[i + 1..])),
            _ => {}
        }
    }
    (String::new(), unquote(q))
}

fn parse_one(def: &str) -> Option<FunctionDef> {
    let open = def.find('(')?;
    let close = open + def[open..].find(')')?;
    let (schema, name) = split_name(def[..open].trim());
    let rest = &def[close + 1..];
    let as_at = rest.find("AS $")?;
    let attributes = &rest[..as_at];
    let quoted = &rest[as_at + 3..];
    let tag_end = 1 + quoted[1..].find('$')?;
    let tag = &quoted[..=tag_end];
    let body_and_rest = &quoted[tag.len()..];
    let body = &body_and_rest[..body_and_rest.find(tag)?];
    let config = attributes
        .lines()
        .filter_map(|l| {
            // One attribute per line, or all on the statement's line.
            let l = l.trim();
            l.strip_prefix("SET ")
                .or_else(|| l.split_once(" SET ").map(|(_, v)| v))
        })
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| format!("{}={}", k.trim(), v.trim()))
        .collect();
    Some(FunctionDef {
        schema,
        name,
        args: def[open + 1..close].trim().to_owned(),
        source: body.to_owned(),
        security_definer: attributes.contains("SECURITY DEFINER"),
        config,
    })
}

/// Every `CREATE OR REPLACE FUNCTION` of generated `sql`, read back.
pub(crate) fn parse_functions(sql: &str) -> Vec<FunctionDef> {
    sql.split("CREATE OR REPLACE FUNCTION ")
        .skip(1)
        .filter_map(parse_one)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_hardened_function_back() {
        let f = hardened_functions(Some("app")).unwrap();
        let find = |s: &str, n: &str| f.iter().find(|x| x.schema == s && x.name == n).unwrap();
        let current = find("app", "better_tenant_current");
        assert!(current.security_definer);
        assert_eq!(current.args, "");
        assert_eq!(current.config, ["search_path=pg_catalog, pg_temp"]);
        assert!(current.source.contains("signed"));
        let hmac = find("better_tenant_private", "hmac_sha256");
        assert_eq!(hmac.args, "key bytea, msg bytea");
        assert!(!hmac.security_definer);
        find("better_tenant_private", "signed");
        find("app", "better_tenant_bypass");
        find("app", "set_tenant_id");
    }

    #[test]
    fn comparison_ignores_whitespace_only() {
        let f = hardened_functions(None).unwrap();
        let bypass = f.iter().find(|x| x.name == "better_tenant_bypass").unwrap();
        let live = FunctionDef {
            source: bypass.source.replace('\n', "\r\n"),
            config: vec!["search_path=pg_catalog,pg_temp".to_owned()],
            ..bypass.clone()
        };
        assert!(bypass.matches(&live));
        for broken in [
            FunctionDef {
                security_definer: false,
                ..live.clone()
            },
            FunctionDef {
                config: vec![],
                ..live.clone()
            },
            FunctionDef {
                source: " SELECT current_setting('app.bypass_rls', true) = 'true' ".into(),
                ..live.clone()
            },
        ] {
            assert!(!bypass.matches(&broken));
        }
    }

    #[test]
    fn one_line_definitions() {
        let t = crate::audit::storage::Table::new("public").unwrap();
        let sql = crate::audit::triggers::triggers_sql(&t, &[]).unwrap();
        let f = parse_functions(&sql).remove(0);
        assert_eq!(f.name, "usebetter_audit_capture");
        assert!(f.security_definer);
        assert_eq!(f.config, ["search_path=pg_catalog"]);
        assert!(f.source.contains("INSERT INTO \"public\".\"audit_logs\""));
    }

    #[test]
    fn quoted_names() {
        assert_eq!(
            split_name("\"a.b\".\"c\"\"d\""),
            ("a.b".to_owned(), "c\"d".to_owned())
        );
    }
}
