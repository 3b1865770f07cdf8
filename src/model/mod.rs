//! Domain types only: identifiers, users, groups, tokens, flows and stages, events.
//! No I/O lives here, and nothing here names a storage engine or a web framework.

pub mod event;
pub mod flow;
pub mod group;
pub mod ids;
pub mod stage;
pub mod time;
pub mod token;
pub mod user;

pub use event::{Event, EventAction, EventUser};
pub use flow::{Flow, FlowAuthentication, FlowDesignation, StageBinding};
pub use group::{Group, NewGroup};
pub use ids::{BindingId, FlowId, GroupId, StageId, UserId};
pub use stage::{Stage, StageKind};
pub use time::Timestamp;
pub use token::{Token, TokenIntent};
pub use user::{NewUser, User, UserType, Username};
