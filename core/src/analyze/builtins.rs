//! Built-in functions known not to write tables. A call to anything else (a user function, a
//! `pg_temp` function, an extension's) could run any SQL, so the analyser cannot call the
//! statement read-only. The list stays short on purpose: it holds what everyday reads use.
//! `query_to_xml` and friends are absent because they run SQL text passed to them; sequence
//! functions and advisory locks are in, as they write no table.

const READ_ONLY: &str = "\
    count sum avg min max array_agg string_agg json_agg jsonb_agg json_object_agg \
    jsonb_object_agg bool_and bool_or every bit_and bit_or stddev stddev_pop stddev_samp \
    variance var_pop var_samp percentile_cont percentile_disc mode rank dense_rank row_number \
    ntile lag lead first_value last_value nth_value cume_dist percent_rank coalesce nullif \
    greatest least lower upper initcap length char_length character_length octet_length \
    bit_length trim btrim ltrim rtrim substring substr replace translate concat concat_ws left \
    right lpad rpad position strpos split_part repeat reverse format regexp_replace regexp_match \
    regexp_matches regexp_split_to_array regexp_split_to_table starts_with md5 sha224 sha256 \
    sha384 sha512 encode decode convert_from convert_to to_hex ascii chr quote_ident \
    quote_literal quote_nullable abs ceil ceiling floor round trunc mod power sqrt exp ln log \
    sign div random width_bucket now current_timestamp current_date current_time localtime \
    localtimestamp clock_timestamp statement_timestamp transaction_timestamp date_trunc \
    date_part extract age make_interval make_date make_time make_timestamp make_timestamptz \
    to_char to_date to_timestamp to_number date_bin timezone justify_days justify_hours \
    justify_interval isfinite to_json to_jsonb row_to_json array_to_json json_build_object \
    jsonb_build_object json_build_array jsonb_build_array json_object jsonb_object jsonb_set \
    jsonb_insert jsonb_strip_nulls json_strip_nulls jsonb_pretty json_each jsonb_each \
    json_each_text jsonb_each_text json_array_elements jsonb_array_elements \
    json_array_elements_text jsonb_array_elements_text json_array_length jsonb_array_length \
    json_typeof jsonb_typeof json_object_keys jsonb_object_keys jsonb_path_query \
    jsonb_path_query_array jsonb_path_query_first jsonb_path_exists jsonb_path_match \
    json_extract_path jsonb_extract_path json_extract_path_text jsonb_extract_path_text \
    json_populate_record jsonb_populate_record json_to_record jsonb_to_record json_to_recordset \
    jsonb_to_recordset array_length array_lower array_upper array_ndims array_dims cardinality \
    unnest array_position array_positions array_remove array_replace array_append array_prepend \
    array_cat array_to_string string_to_array generate_series generate_subscripts \
    gen_random_uuid current_setting set_config version current_database current_catalog \
    current_schema current_schemas current_user session_user current_role user pg_backend_pid \
    pg_typeof txid_current pg_current_xact_id inet_client_addr has_table_privilege \
    has_schema_privilege has_column_privilege pg_has_role row_security_active format_type \
    pg_get_userbyid pg_get_expr pg_get_indexdef pg_get_constraintdef pg_get_viewdef \
    pg_get_functiondef pg_get_triggerdef obj_description col_description pg_table_size \
    pg_total_relation_size pg_relation_size pg_indexes_size pg_size_pretty pg_column_size \
    to_regclass to_regtype pg_table_is_visible pg_is_in_recovery pg_postmaster_start_time \
    nextval currval setval lastval pg_advisory_lock pg_advisory_xact_lock pg_advisory_unlock \
    pg_try_advisory_lock pg_try_advisory_xact_lock pg_advisory_lock_shared \
    pg_advisory_xact_lock_shared pg_sleep";

/// Whether a call to the function `parts` (normalised name parts) cannot write a table: a
/// known built-in, unqualified or in `pg_catalog` (which PostgreSQL searches first).
pub(super) fn read_only(parts: &[String]) -> bool {
    let name = match parts {
        [name] => name,
        [schema, name] if schema == "pg_catalog" => name,
        _ => return false,
    };
    READ_ONLY.split_ascii_whitespace().any(|f| f == name)
}

/// Read-only built-ins whose result or effect belongs to the transaction rather than the
/// statement: its start time, its id, its settings (`transaction_read_only` differs in a read's
/// own transaction), sequence state and advisory locks. A statement calling one cannot be moved
/// into a transaction of its own unnoticed.
const TRANSACTION_BOUND: &str = "\
    now current_timestamp current_date current_time localtime localtimestamp \
    transaction_timestamp age txid_current pg_current_xact_id set_config current_setting nextval \
    currval setval lastval pg_advisory_lock pg_advisory_xact_lock pg_advisory_unlock \
    pg_try_advisory_lock pg_try_advisory_xact_lock pg_advisory_lock_shared \
    pg_advisory_xact_lock_shared pg_sleep";

/// Whether a call to `parts` is a known read-only built-in that gives the same answer in a
/// transaction of its own as in the caller's.
pub(super) fn statement_bound(parts: &[String]) -> bool {
    read_only(parts)
        && parts.last().is_some_and(|name| {
            !TRANSACTION_BOUND
                .split_ascii_whitespace()
                .any(|f| f == name)
        })
}
