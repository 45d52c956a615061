//! What a policy expression actually does, judged from its text as PostgreSQL deparses it.
//!
//! `check` must recognise protection by meaning, not by policy name: our range form (which
//! PostgreSQL deparses from `BETWEEN` into `>= AND <=`), the reference's text comparison, or a
//! hand-written `tenant_id = current_setting(...)::uuid`. Anything else in a permissive policy
//! widens access.

use sqlparser::ast::{BinaryOperator, Expr, SetExpr, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Classification of one policy expression (`qual` or `with_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Predicate {
    /// Every row it admits belongs to the current tenant (or the bypass is on).
    pub tenant_scoped: bool,
    /// It has an arm that admits everything under the bypass setting.
    pub bypass: bool,
    /// PostgreSQL can answer it with a btree index on `tenant_id`.
    pub index_friendly: bool,
    /// It compares `tenant_id` as text (the reference's form): correct but unindexable.
    pub text_comparison: bool,
    /// It reads `app.*` settings directly instead of through the signature-checking functions.
    pub unsigned: bool,
}

const BYPASS_MARKERS: [&str; 2] = ["app.bypass_rls", "better_tenant_bypass"];

fn mentions(e: &Expr, markers: &[&str]) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    markers.iter().any(|m| text.contains(m))
}

/// `e` as a token string without case, whitespace, parentheses, double quotes, `::text` casts
/// or `AS alias` labels, so PostgreSQL's deparsed form and the SQL we generate compare equal.
/// The shapes matched below contain no operators whose grouping could change their meaning.
fn canon(e: &Expr) -> String {
    let text = e.to_string().to_ascii_lowercase();
    let mut words: Vec<&str> = Vec::new();
    let mut skip = false;
    for w in text.split_whitespace() {
        if skip {
            skip = false;
            // `AS "case")` keeps the closing parentheses that belong to the outer expression.
            words.push(w.trim_start_matches(|c: char| c != ')'));
            continue;
        }
        if w == "as" && !words.last().is_some_and(|p| p.starts_with("cast")) {
            skip = true;
            continue;
        }
        words.push(w);
    }
    words
        .concat()
        .replace("::text", "")
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | '"'))
        .collect()
}

/// `[SELECT] [schema.]better_tenant_<name>()`, canonicalised.
fn is_call(c: &str, name: &str) -> bool {
    let c = c.strip_prefix("select").unwrap_or(c);
    let f = format!("better_tenant_{name}");
    c == f
        || c.strip_suffix(&f).is_some_and(|q| {
            q.strip_suffix('.').is_some_and(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|x| x.is_alphanumeric() || x == '_' || x == '$')
            })
        })
}

/// The bypass test exactly as we or the reference write it: the setting must equal `'true'`.
/// Anything looser (`<> 'false'`, `IS NOT NULL`, …) admits every row on values nobody meant.
fn is_bypass_test(c: &str) -> bool {
    let c = c.strip_prefix("select").unwrap_or(c);
    let c = c
        .strip_prefix("coalesce")
        .and_then(|x| x.strip_suffix(",false"))
        .unwrap_or(c);
    matches!(
        c,
        "current_setting'app.bypass_rls',true='true'" | "current_setting'app.bypass_rls'='true'"
    ) || is_call(c, "bypass")
}

/// The current tenant as a value: the setting (cast or not) or our function.
fn is_current(c: &str) -> bool {
    let c = c.strip_prefix("select").unwrap_or(c);
    let c = c.strip_suffix("::uuid").unwrap_or(c);
    let c = c
        .strip_prefix("nullif")
        .and_then(|x| x.strip_suffix(",''"))
        .unwrap_or(c);
    matches!(
        c,
        "current_setting'app.current_tenant',true" | "current_setting'app.current_tenant'"
    ) || is_call(c, "current")
}

/// One bound of the range form: the current tenant, our bound functions, or
/// `(SELECT CASE WHEN <bypass> THEN '<uuid>'::uuid ELSE <current> END)`.
fn is_bound(e: &Expr) -> bool {
    let c = canon(e);
    if is_current(&c) || is_call(&c, "floor") || is_call(&c, "ceiling") {
        return true;
    }
    let Some(case) = c
        .strip_prefix("select")
        .unwrap_or(&c)
        .strip_prefix("casewhen")
        .and_then(|x| x.strip_suffix("end"))
    else {
        return false;
    };
    let (Some(then), Some(otherwise)) = (case.find("then'"), case.rfind("else")) else {
        return false;
    };
    let edge = case.get(then + 4..otherwise).unwrap_or_default();
    let uuid = edge
        .strip_prefix('\'')
        .and_then(|x| x.strip_suffix("'::uuid"))
        .is_some_and(|u| u.len() == 36 && u.chars().all(|x| x.is_ascii_hexdigit() || x == '-'));
    uuid && is_bypass_test(&case[..then]) && is_current(&case[otherwise + 4..])
}

fn is_tenant_column(e: &Expr, column: &str) -> Option<bool> {
    match e {
        Expr::Identifier(i) if i.value == column => Some(false),
        Expr::CompoundIdentifier(parts) if parts.last().is_some_and(|i| i.value == column) => {
            Some(false)
        }
        Expr::Nested(inner) => is_tenant_column(inner, column),
        // A cast of the column (`(tenant_id)::text`) still scopes rows but defeats the index.
        Expr::Cast { expr, .. } => is_tenant_column(expr, column).map(|_| true),
        _ => None,
    }
}

fn unnest(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => unnest(inner),
        other => other,
    }
}

fn disjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match unnest(e) {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => {
            disjuncts(left, out);
            disjuncts(right, out);
        }
        other => out.push(other),
    }
}

/// One comparison arm: `Some(casted)` if it pins `column` to the tenant scope.
fn tenant_arm(e: &Expr, column: &str) -> Option<bool> {
    match unnest(e) {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => {
            let (col, other) = match (
                is_tenant_column(left, column),
                is_tenant_column(right, column),
            ) {
                (Some(c), None) => (c, right),
                (None, Some(c)) => (c, left),
                _ => return None,
            };
            // The reference compares text to the raw setting; a uuid column needs the cast.
            is_current(&canon(other)).then_some(col)
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => {
            let col = is_tenant_column(expr, column)?;
            (is_bound(low) && is_bound(high)).then_some(col)
        }
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            // `col >= floor AND col <= ceiling`, the deparsed BETWEEN.
            let bound = |e: &Expr, op: &BinaryOperator| match unnest(e) {
                Expr::BinaryOp { left, op: o, right } if o == op => {
                    is_tenant_column(left, column).filter(|_| is_bound(right))
                }
                _ => None,
            };
            let lo = bound(left, &BinaryOperator::GtEq)?;
            let hi = bound(right, &BinaryOperator::LtEq)?;
            Some(lo || hi)
        }
        _ => None,
    }
}

fn bypass_arm(e: &Expr) -> bool {
    is_bypass_test(&canon(e))
}

/// `… AND <bypass test>`: rows only in system context, and of those only some (the webhook
/// tables' operator-level arm, `tenant_id IS NULL AND (SELECT <bypass>)`).
fn narrowed_bypass_arm(e: &Expr) -> bool {
    match unnest(e) {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => [left, right]
            .iter()
            .any(|side| bypass_arm(side) || narrowed_bypass_arm(side)),
        _ => false,
    }
}

fn parse_expr(sql: &str) -> Option<Expr> {
    let stmts = Parser::parse_sql(&PostgreSqlDialect {}, &format!("SELECT 1 WHERE {sql}")).ok()?;
    match stmts.into_iter().next()? {
        Statement::Query(q) => match *q.body {
            SetExpr::Select(s) => s.selection,
            _ => None,
        },
        _ => None,
    }
}

/// Classifies `expr` with respect to `column` (usually `tenant_id`, or `id` for `tenants`).
#[must_use]
pub fn classify(expr: &str, column: &str) -> Predicate {
    let Some(e) = parse_expr(expr) else {
        return Predicate::default();
    };
    let mut arms = Vec::new();
    disjuncts(&e, &mut arms);
    let mut out = Predicate::default();
    let mut tenant_arms = 0;
    let mut casted = false;
    for arm in &arms {
        if let Some(c) = tenant_arm(arm, column) {
            tenant_arms += 1;
            casted |= c;
            // Our range form carries the bypass inside the bounds.
            out.bypass |= mentions(arm, &["better_tenant_floor"]) || mentions(arm, &BYPASS_MARKERS);
        } else if bypass_arm(arm) {
            out.bypass = true;
        } else if narrowed_bypass_arm(arm) {
            // Admits rows only under the bypass: neither widens access nor is the bypass.
        } else {
            return Predicate::default();
        }
    }
    out.tenant_scoped = tenant_arms > 0;
    out.unsigned = reads_settings(expr);
    out.text_comparison = casted;
    out.index_friendly = tenant_arms == 1 && arms.len() == 1 && !casted;
    out
}

/// Whether `expr` reads the context settings itself (unsigned in hardened mode).
#[must_use]
pub fn reads_settings(expr: &str) -> bool {
    let e = expr.to_ascii_lowercase();
    e.contains("current_setting")
        || e.contains("app.current_tenant")
        || e.contains("app.bypass_rls")
}

/// Whether `expr` admits rows only under the bypass (the `tenants` write policy).
#[must_use]
pub fn bypass_only(expr: &str) -> bool {
    parse_expr(expr).is_some_and(|e| bypass_arm(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_deparsed_range_form() {
        let p = classify(
            "((tenant_id >= ( SELECT better_tenant_floor() AS better_tenant_floor)) AND (tenant_id <= ( SELECT better_tenant_ceiling() AS better_tenant_ceiling)))",
            "tenant_id",
        );
        assert_eq!(
            p,
            Predicate {
                tenant_scoped: true,
                bypass: true,
                index_friendly: true,
                text_comparison: false,
                unsigned: false,
            }
        );
    }

    #[test]
    fn our_inlined_range_form() {
        let p = classify(
            "((tenant_id >= ( SELECT CASE WHEN COALESCE((current_setting('app.bypass_rls'::text, true) = 'true'::text), false) THEN '00000000-0000-0000-0000-000000000000'::uuid ELSE (NULLIF(current_setting('app.current_tenant'::text, true), ''::text))::uuid END AS \"case\")) AND (tenant_id <= ( SELECT CASE WHEN COALESCE((current_setting('app.bypass_rls'::text, true) = 'true'::text), false) THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid ELSE (NULLIF(current_setting('app.current_tenant'::text, true), ''::text))::uuid END AS \"case\")))",
            "tenant_id",
        );
        assert_eq!(
            p,
            Predicate {
                tenant_scoped: true,
                bypass: true,
                index_friendly: true,
                text_comparison: false,
                unsigned: true,
            }
        );
        let widened = classify("((tenant_id >= (current_setting('app.current_tenant'::text))::uuid) AND (tenant_id <= 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))", "tenant_id");
        assert!(
            !widened.tenant_scoped,
            "an upper bound without the tenant is not a tenant scope"
        );
    }

    #[test]
    fn reference_text_form() {
        let p = classify(
            "(((tenant_id)::text = current_setting('app.current_tenant'::text, true)) OR (current_setting('app.bypass_rls'::text, true) = 'true'::text))",
            "tenant_id",
        );
        assert!(p.tenant_scoped && p.bypass && p.text_comparison && !p.index_friendly);
    }

    #[test]
    fn hand_written_equality() {
        let p = classify(
            "(tenant_id = (current_setting('app.current_tenant'::text))::uuid)",
            "tenant_id",
        );
        assert!(p.tenant_scoped && !p.bypass && p.index_friendly);
    }

    #[test]
    fn widening_or_unrelated() {
        for e in [
            "true",
            "(owner = CURRENT_USER)",
            "((tenant_id)::text = current_setting('app.current_tenant'::text, true)) OR true",
            "(tenant_id IS NOT NULL)",
            "(other_id = (current_setting('app.current_tenant'::text))::uuid)",
            "not sql at all (",
        ] {
            assert!(!classify(e, "tenant_id").tenant_scoped, "{e}");
        }
    }

    #[test]
    fn weaker_bypass_tests_are_not_a_bypass() {
        for e in [
            "((tenant_id = (current_setting('app.current_tenant'::text))::uuid) OR (current_setting('app.bypass_rls'::text, true) <> 'false'::text))",
            "((tenant_id = (current_setting('app.current_tenant'::text))::uuid) OR (current_setting('app.bypass_rls'::text, true) IS NOT NULL))",
            "((tenant_id >= ( SELECT CASE WHEN (current_setting('app.bypass_rls'::text, true) <> 'false'::text) THEN '00000000-0000-0000-0000-000000000000'::uuid ELSE (NULLIF(current_setting('app.current_tenant'::text, true), ''::text))::uuid END AS \"case\")) AND (tenant_id <= ( SELECT CASE WHEN (current_setting('app.bypass_rls'::text, true) <> 'false'::text) THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid ELSE (NULLIF(current_setting('app.current_tenant'::text, true), ''::text))::uuid END AS \"case\")))",
            "(tenant_id = COALESCE((current_setting('app.current_tenant'::text))::uuid, tenant_id))",
        ] {
            assert!(!classify(e, "tenant_id").tenant_scoped, "{e}");
        }
        assert!(!bypass_only(
            "(current_setting('app.bypass_rls'::text, true) <> 'false'::text)"
        ));
    }

    #[test]
    fn hardened_form_is_signed() {
        let p = classify(
            "((tenant_id >= ( SELECT CASE WHEN better_tenant_bypass() THEN '00000000-0000-0000-0000-000000000000'::uuid ELSE better_tenant_current() END AS \"case\")) AND (tenant_id <= ( SELECT CASE WHEN public.better_tenant_bypass() THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid ELSE public.better_tenant_current() END AS \"case\")))",
            "tenant_id",
        );
        assert!(p.tenant_scoped && p.bypass && p.index_friendly && !p.unsigned);
    }

    #[test]
    fn operator_level_arm_narrows_the_bypass() {
        let bypass = "(SELECT COALESCE((current_setting('app.bypass_rls'::text, true) = 'true'::text), false) AS \"coalesce\")";
        let range = "tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid";
        let p = classify(
            &format!("({range}) OR ((tenant_id IS NULL) AND {bypass})"),
            "tenant_id",
        );
        assert!(p.tenant_scoped && !p.bypass, "{p:?}");
        let widened = classify(
            &format!("({range}) OR ((tenant_id IS NULL) OR {bypass})"),
            "tenant_id",
        );
        assert!(!widened.tenant_scoped);
        let unrelated = classify(
            &format!("({range}) OR (tenant_id IS NULL AND true)"),
            "tenant_id",
        );
        assert!(!unrelated.tenant_scoped);
    }

    #[test]
    fn bypass_only_policies() {
        assert!(bypass_only(
            "(current_setting('app.bypass_rls'::text, true) = 'true'::text)"
        ));
        assert!(bypass_only(
            "( SELECT better_tenant_bypass() AS better_tenant_bypass)"
        ));
        assert!(bypass_only(
            "( SELECT COALESCE((current_setting('app.bypass_rls'::text, true) = 'true'::text), false) AS \"coalesce\")"
        ));
        assert!(!bypass_only("true"));
    }
}
