//! authentik's list parameters (`page`, `page_size`, `search`, `ordering`) and its
//! pagination envelope.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::store::{ListQuery, Page};

const DEFAULT_PAGE_SIZE: u64 = 20;
const MAX_PAGE_SIZE: u64 = 1000;

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub page: Option<u64>,
    pub page_size: Option<u64>,
    pub search: Option<String>,
    pub ordering: Option<String>,
}

impl ListParams {
    fn page(&self) -> u64 {
        self.page.unwrap_or(1).max(1)
    }

    fn page_size(&self) -> u64 {
        self.page_size
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }

    /// `ordering` names one of `allowed` (a leading `-` means descending); other names
    /// are ignored, as Django REST framework does.
    pub fn query(&self, allowed: &[&str]) -> ListQuery {
        let (order_by, descending) = match self.ordering.as_deref().map(str::trim) {
            Some(field) => {
                let descending = field.starts_with('-');
                let name = field.trim_start_matches('-');
                let known = allowed.contains(&name);
                (known.then(|| name.to_owned()), descending && known)
            }
            None => (None, false),
        };
        ListQuery {
            offset: (self.page() - 1).saturating_mul(self.page_size()),
            limit: self.page_size(),
            search: self
                .search
                .as_deref()
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(str::to_owned),
            order_by,
            descending,
        }
    }
}

#[derive(Serialize)]
pub struct Paginated {
    pub pagination: Value,
    pub results: Vec<Value>,
    pub autocomplete: Value,
}

pub fn paginate<T>(
    params: &ListParams,
    page: &Page<T>,
    render: impl FnMut(&T) -> Value,
) -> Paginated {
    let size = params.page_size();
    let current = params.page();
    let total_pages = page.total.div_ceil(size).max(1);
    let start_index = if page.items.is_empty() {
        0
    } else {
        (current - 1) * size + 1
    };
    let end_index = if page.items.is_empty() {
        0
    } else {
        start_index + page.items.len() as u64 - 1
    };
    Paginated {
        pagination: json!({
            "next": if current < total_pages { current + 1 } else { 0 },
            "previous": current.saturating_sub(1),
            "count": page.total,
            "current": current,
            "total_pages": total_pages,
            "start_index": start_index,
            "end_index": end_index,
        }),
        results: page.items.iter().map(render).collect(),
        autocomplete: json!({}),
    }
}

/// Pages a list already in memory (objects from the catalog snapshot).
pub fn paginate_in_memory<T>(
    params: &ListParams,
    items: Vec<T>,
    render: impl FnMut(&T) -> Value,
) -> Paginated {
    let total = items.len() as u64;
    let skip = (params.page() - 1).saturating_mul(params.page_size());
    let items = items
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(params.page_size()).unwrap_or(usize::MAX))
        .collect();
    paginate(params, &Page { items, total }, render)
}
