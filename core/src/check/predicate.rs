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
}

const TENANT_MARKERS: [&str; 4] = [
    "app.current_tenant",
    "better_tenant_current",
    "better_tenant_floor",
    "better_tenant_ceiling",
];
const BYPASS_MARKERS: [&str; 2] = ["app.bypass_rls", "better_tenant_bypass"];

fn mentions(e: &Expr, markers: &[&str]) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    markers.iter().any(|m| text.contains(m))
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
            (mentions(other, &TENANT_MARKERS) && !mentions(other, &BYPASS_MARKERS)).then_some(col)
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => {
            let col = is_tenant_column(expr, column)?;
            (mentions(low, &TENANT_MARKERS) && mentions(high, &TENANT_MARKERS)).then_some(col)
        }
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            // `col >= floor AND col <= ceiling`, the deparsed BETWEEN.
            let bound = |e: &Expr, op: &BinaryOperator| match unnest(e) {
                Expr::BinaryOp { left, op: o, right } if o == op => {
                    is_tenant_column(left, column).filter(|_| mentions(right, &TENANT_MARKERS))
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

fn bypass_arm(e: &Expr, column: &str) -> bool {
    mentions(e, &BYPASS_MARKERS) && !e.to_string().contains(column)
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
        } else if bypass_arm(arm, column) {
            out.bypass = true;
        } else {
            return Predicate::default();
        }
    }
    out.tenant_scoped = tenant_arms > 0;
    out.text_comparison = casted;
    out.index_friendly = tenant_arms == 1 && arms.len() == 1 && !casted;
    out
}

/// Whether `expr` admits rows only under the bypass (the `tenants` write policy).
#[must_use]
pub fn bypass_only(expr: &str) -> bool {
    parse_expr(expr)
        .is_some_and(|e| mentions(&e, &BYPASS_MARKERS) && !mentions(&e, &TENANT_MARKERS))
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
                text_comparison: false
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
                text_comparison: false
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
    fn bypass_only_policies() {
        assert!(bypass_only(
            "(current_setting('app.bypass_rls'::text, true) = 'true'::text)"
        ));
        assert!(bypass_only(
            "( SELECT better_tenant_bypass() AS better_tenant_bypass)"
        ));
        assert!(!bypass_only("true"));
    }
}
