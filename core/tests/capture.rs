//! The audit adapters' capturing statements: snapshots with the slots shown as `{slot}`, the
//! one diff expression in every statement that diffs, and bad input.

use usebetter_core::audit::capture::{capture_sql, CaptureSpec, Inline, Operation, Part};
use usebetter_core::audit::diff::diff_sql;
use usebetter_core::audit::image::ImageColumn;
use usebetter_core::audit::table::{table_sql, TableSpec};

fn users(key: &[&str]) -> TableSpec {
    let col = |name: &str, sql_type: &str, key: &str| ImageColumn {
        name: name.into(),
        sql_type: sql_type.into(),
        key: key.into(),
    };
    TableSpec {
        schema: Some("app".into()),
        name: "users".into(),
        columns: vec![
            col("id", "bigint", "id"),
            col("org", "integer", "org"),
            col("full_name", "text", "fullName"),
            col("created_at", "timestamp with time zone", "createdAt"),
        ],
        key: key.iter().map(|k| (*k).to_owned()).collect(),
    }
}

fn spec(operation: Operation, key: &[&str], upsert: bool, inline: Option<Inline>) -> CaptureSpec {
    CaptureSpec {
        table: users(key),
        operation,
        upsert,
        inline,
    }
}

/// The statement with each slot as `{name}`, its `before`/`after` texts around it.
fn shown(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Slot {
                slot,
                before,
                after,
            } => format!("{before}{{{slot}}}{after}"),
        })
        .collect()
}

#[test]
fn update_statements() {
    let pipeline = capture_sql(&spec(Operation::Update, &["id"], false, None)).unwrap();
    insta::assert_snapshot!("capture_update_pipeline", shown(&pipeline.statement));
    let inline = Inline {
        tenant: true,
        skip_before: false,
    };
    let logged = capture_sql(&spec(
        Operation::Update,
        &["org", "id"],
        false,
        Some(inline),
    ))
    .unwrap();
    insta::assert_snapshot!("capture_update_inline", shown(&logged.statement));
    assert!(
        shown(&logged.statement).contains(&diff_sql(
            "r.\"__audit_before\"::json",
            "r.\"__audit_image\"::json"
        )),
        "inline capture diffs with the one SQL diff"
    );
}

#[test]
fn insert_and_delete_statements() {
    let upsert = capture_sql(&spec(Operation::Insert, &["id"], true, None)).unwrap();
    assert_eq!(upsert.inserted, Some("(xmax = 0)"));
    assert_eq!(
        (upsert.image_as, upsert.inserted_as),
        ("__audit_image", "__audit_inserted")
    );
    assert!(upsert.image.ends_with("::text"), "{}", upsert.image);
    insta::assert_snapshot!("capture_upsert_pipeline", shown(&upsert.statement));
    let skip = Inline {
        tenant: false,
        skip_before: true,
    };
    let delete = capture_sql(&spec(Operation::Delete, &["id"], false, Some(skip))).unwrap();
    insta::assert_snapshot!("capture_delete_inline", shown(&delete.statement));
    let update = capture_sql(&spec(Operation::Update, &["id"], false, Some(skip))).unwrap();
    assert!(shown(&update.statement).contains(&diff_sql("'{}'::json", "r.\"__audit_image\"::json")));
}

#[test]
fn prisma_statements() {
    let catalog = table_sql(&TableSpec {
        schema: None,
        name: "Order \"Lines\"".into(),
        ..TableSpec::default()
    })
    .unwrap();
    assert_eq!(catalog.reference, "\"Order \"\"Lines\"\"\"");
    assert!(catalog
        .columns
        .contains("to_regclass('\"Order \"\"Lines\"\"\"')"));
    assert_eq!((catalog.images, catalog.images_locked), (None, None));
    let full = table_sql(&users(&["org", "id"])).unwrap();
    insta::assert_snapshot!("capture_prisma_images", full.images_locked.unwrap());
}

#[test]
fn bad_tables_are_refused_naming_the_field() {
    let mut no_name = users(&["id"]);
    no_name.name = String::new();
    let err = capture_sql(&CaptureSpec {
        table: no_name,
        operation: Operation::Insert,
        upsert: false,
        inline: None,
    })
    .unwrap_err();
    assert_eq!(err.code(), "INVALID_IDENTIFIER");
    assert!(err.to_string().contains("table.name"), "{err}");
    let err = capture_sql(&spec(Operation::Update, &[], false, None)).unwrap_err();
    assert!(err.to_string().contains("table.key"), "{err}");
    let err = table_sql(&users(&["nope"])).unwrap_err();
    assert!(err.to_string().contains("table.key[0]"), "{err}");
    let mut bad_column = users(&["id"]);
    bad_column.columns[1].name = "a\0b".into();
    let err = table_sql(&bad_column).unwrap_err();
    assert!(err.to_string().contains("table.columns[1]"), "{err}");
}
