//! Statements as data: SQL text with `$1…$n` and the name and PostgreSQL type of each
//! parameter, built once and run by the caller.

/// One parameter of a statement: its name (for the caller) and PostgreSQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Param {
    pub name: &'static str,
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub pg_type: &'static str,
}

/// SQL with `$1…$n` and what each parameter is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Statement {
    pub(crate) fn new(sql: String, params: &[(&'static str, &'static str)]) -> Statement {
        debug_assert!(
            params
                .iter()
                .enumerate()
                .all(|(i, _)| sql.contains(&format!("${}", i + 1))),
            "every parameter is used: {sql}"
        );
        Statement {
            sql,
            params: params
                .iter()
                .map(|(name, pg_type)| Param { name, pg_type })
                .collect(),
        }
    }

    /// The statement as a comment header and its SQL, for snapshots and `--dry-run` output.
    #[must_use]
    pub fn render(&self, name: &str) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| format!("${} {} {}", i + 1, p.name, p.pg_type))
            .collect();
        format!(
            "-- {name}({})\n{};\n",
            params.join(", "),
            self.sql.trim_end()
        )
    }
}
