//! Domain types only: identifiers, users, groups, tokens, flows and stages, events.
//! No I/O lives here, and nothing here names a storage engine or a web framework.

pub mod application;
pub mod brand;
pub mod consent;
pub mod device;
pub mod email;
pub mod event;
pub mod flow;
pub mod group;
pub mod ids;
pub mod invitation;
pub mod keypair;
pub mod outpost;
pub mod policy;
pub mod property_mapping;
pub mod provider;
pub mod saml;
pub mod stage;
pub mod time;
pub mod token;
pub mod user;

pub use application::Application;
pub use brand::Brand;
pub use consent::Consent;
pub use device::{Device, DeviceClass, DeviceData, DeviceId};
pub use email::{OutboxEntry, OutboxStatus, OutgoingEmail};
pub use event::{Event, EventAction, EventUser};
pub use flow::{Flow, FlowAuthentication, FlowDesignation, StageBinding};
pub use group::{Group, NewGroup};
pub use ids::{BindingId, FlowId, GroupId, PolicyBindingId, PolicyId, ProviderId, StageId, UserId};
pub use invitation::Invitation;
pub use keypair::{CertificateKeyPair, KeyType};
pub use outpost::{Outpost, OutpostType};
pub use policy::{
    BindingSubject, Policy, PolicyBinding, PolicyEngineMode, PolicyKind, PolicyTarget,
};
pub use property_mapping::{MappingKind, PropertyMapping, ScopeMapping, StandardScope};
pub use provider::{
    ClientType, IssuerMode, LdapAccessMode, LdapProvider, MatchingMode, OAuth2Provider, Provider,
    ProviderKind, ProxyMode, ProxyProvider, RedirectUri, RefreshToken, SubMode,
};
pub use saml::{SamlBinding, SamlMapping, SamlProvider, StandardSamlAttribute};
pub use stage::{Stage, StageKind};
pub use time::Timestamp;
pub use token::{Token, TokenIntent};
pub use user::{NewUser, User, UserType, Username};
