//! Audit events in SQLite. The acting user is kept as a JSON copy rather than a
//! reference, so the trail survives the account's deletion.

use rusqlite::Row;
use rusqlite::types::Value;
use uuid::Uuid;

use super::SqliteTx;
use super::codec::{col, corrupt, first, json_col, sql_error, to_json, uuid_col};
use super::list::{Filter, ListSpec, list, list_where};
use crate::model::{Event, EventAction, EventUser, Timestamp};
use crate::store::{EventFilter, EventReads, EventWrites, ListQuery, Page, StoreResult};

const TABLE: &str = "events";

const LIST: ListSpec = ListSpec {
    from: "events",
    columns: "id, action, user_json, client_ip, context, created",
    search: &["action", "json_extract(user_json, '$.username')"],
    order: &[("created", "created"), ("action", "action")],
    default_order: "created",
    default_descending: Some(true),
    // rowid follows insertion, so events of the same second keep their order.
    tiebreak: "rowid",
};

fn decode(row: &Row<'_>) -> StoreResult<Event> {
    let action: String = col(row, 1, TABLE)?;
    // `EventAction` has no `parse`; its serde names are its `as_str()` names.
    let action: EventAction = serde_json::from_value(serde_json::Value::String(action.clone()))
        .map_err(|_| corrupt(TABLE, format!("unknown action {action:?}")))?;
    let user: Option<String> = col(row, 2, TABLE)?;
    let user: Option<EventUser> = user
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| corrupt(TABLE, format!("bad user JSON: {e}")))?;
    Ok(Event {
        id: uuid_col(row, 0, TABLE)?,
        action,
        user,
        client_ip: col(row, 3, TABLE)?,
        context: json_col(row, 4, TABLE)?,
        created: Timestamp(col(row, 5, TABLE)?),
    })
}

impl EventReads for SqliteTx<'_> {
    fn list_events(&self, query: &ListQuery) -> StoreResult<Page<Event>> {
        list(self.conn, &LIST, query, None, decode)
    }

    fn list_events_filtered(
        &self,
        query: &ListQuery,
        filter: &EventFilter,
    ) -> StoreResult<Page<Event>> {
        let text = |value: &Option<String>| value.as_ref().map(|value| Value::Text(value.clone()));
        let action = filter.action.as_ref().map(|action| Filter {
            // Action names are lower case.
            condition: "instr(action, ?) > 0",
            value: Value::Text(action.to_lowercase()),
        });
        let username = text(&filter.username).map(|value| Filter {
            condition: "? IN (json_extract(user_json, '$.username'), \
                        json_extract(context, '$.username'))",
            value,
        });
        let client_ip = text(&filter.client_ip).map(|value| Filter {
            condition: "client_ip = ?",
            value,
        });
        let filters = action
            .into_iter()
            .chain(username)
            .chain(client_ip)
            .collect();
        list_where(self.conn, &LIST, query, filters, decode)
    }

    fn event(&self, id: Uuid) -> StoreResult<Option<Event>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM events WHERE id = ?1",
                LIST.columns
            ))
            .map_err(sql_error)?;
        let rows = stmt.query([id.to_string()]).map_err(sql_error)?;
        first(rows, decode)
    }
}

impl EventWrites for SqliteTx<'_> {
    fn insert_event(&self, event: &Event) -> StoreResult<()> {
        let user = event.user.as_ref().map(to_json).transpose()?;
        let context = to_json(&event.context)?;
        self.conn
            .prepare_cached(
                "INSERT INTO events (id, action, user_json, client_ip, context, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    event.id.to_string(),
                    event.action.as_str(),
                    user,
                    event.client_ip,
                    context,
                    event.created.0,
                ])
            })
            .map_err(sql_error)?;
        Ok(())
    }
}
