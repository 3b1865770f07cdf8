//! `ListQuery` in SQL: search, allow-listed ordering, paging and the total, built the same
//! way for every list endpoint. Only static fragments from a `ListSpec` reach the SQL
//! text; everything the caller supplies is a bound parameter.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use super::codec::{collect, sql_error, to_i64, to_u64};
use crate::store::{ListQuery, Page, StoreResult};

pub(super) struct ListSpec {
    /// Table (or join) the rows come from.
    pub from: &'static str,
    pub columns: &'static str,
    /// Expressions the search term is matched against.
    pub search: &'static [&'static str],
    /// API field name → SQL expression.
    pub order: &'static [(&'static str, &'static str)],
    /// Used when `order_by` is absent or not allowed; always followed by `tiebreak`.
    pub default_order: &'static str,
    /// The default order ignores `descending` and runs this way (events: newest first).
    pub default_descending: Option<bool>,
    /// A unique expression, so pages never overlap or skip rows with equal sort keys.
    pub tiebreak: &'static str,
}

/// A fixed extra condition (e.g. the owner filter) with its one parameter (one `?`).
pub(super) struct Filter {
    pub condition: &'static str,
    pub value: Value,
}

pub(super) fn list<T>(
    conn: &Connection,
    spec: &ListSpec,
    query: &ListQuery,
    filter: Option<Filter>,
    decode: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    list_where(conn, spec, query, filter.into_iter().collect(), decode)
}

/// `list` with any number of extra conditions, all of which must hold.
pub(super) fn list_where<T>(
    conn: &Connection,
    spec: &ListSpec,
    query: &ListQuery,
    filters: Vec<Filter>,
    decode: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    let (where_sql, mut params) = where_clause(spec, query, filters);

    let count_sql = format!("SELECT COUNT(*) FROM {}{where_sql}", spec.from);
    let total: i64 = conn
        .prepare_cached(&count_sql)
        .and_then(|mut stmt| stmt.query_row(params_from_iter(params.iter()), |row| row.get(0)))
        .map_err(sql_error)?;

    let (order, descending) = order_of(spec, query);
    let direction = if descending { "DESC" } else { "ASC" };
    let items_sql = format!(
        "SELECT {} FROM {}{where_sql} ORDER BY {order} {direction}, {} {direction} \
         LIMIT ? OFFSET ?",
        spec.columns, spec.from, spec.tiebreak
    );
    // SQLite reads a negative LIMIT as "no limit".
    let limit = if query.limit == 0 {
        -1
    } else {
        to_i64(query.limit)
    };
    params.push(Value::Integer(limit));
    params.push(Value::Integer(to_i64(query.offset)));
    let mut stmt = conn.prepare_cached(&items_sql).map_err(sql_error)?;
    let rows = stmt
        .query(params_from_iter(params.iter()))
        .map_err(sql_error)?;
    Ok(Page {
        items: collect(rows, decode)?,
        total: to_u64(total),
    })
}

fn where_clause(spec: &ListSpec, query: &ListQuery, filters: Vec<Filter>) -> (String, Vec<Value>) {
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    for filter in filters {
        conditions.push(filter.condition.to_owned());
        params.push(filter.value);
    }
    let term = query.search.as_deref().map(str::trim).unwrap_or_default();
    if !term.is_empty() && !spec.search.is_empty() {
        // Lowercased so the adapter's lowercased `*_key` columns match any case; LIKE
        // itself folds ASCII case for the other columns.
        let pattern = format!("%{}%", escape_like(&term.to_lowercase()));
        let matches: Vec<String> = spec
            .search
            .iter()
            .map(|expr| {
                params.push(Value::Text(pattern.clone()));
                format!("{expr} LIKE ? ESCAPE '\\'")
            })
            .collect();
        conditions.push(format!("({})", matches.join(" OR ")));
    }
    if conditions.is_empty() {
        (String::new(), params)
    } else {
        (format!(" WHERE {}", conditions.join(" AND ")), params)
    }
}

fn order_of(spec: &ListSpec, query: &ListQuery) -> (&'static str, bool) {
    let allowed = query
        .order_by
        .as_deref()
        .and_then(|name| spec.order.iter().find(|(field, _)| *field == name));
    match (allowed, spec.default_descending) {
        (Some((_, expr)), _) => (expr, query.descending),
        (None, Some(fixed)) => (spec.default_order, fixed),
        (None, None) => (spec.default_order, query.descending),
    }
}

/// Makes `%`, `_` and the escape character itself match literally.
fn escape_like(term: &str) -> String {
    let mut escaped = String::with_capacity(term.len());
    for ch in term.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }
}
