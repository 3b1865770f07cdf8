//! The `Store` trait and the capability traits a scope exposes, one pair per aggregate.
//! `Store` is synchronous and object-safe; `StoreExt` adds the generic, value-returning
//! `read`/`write` helpers on top.

use uuid::Uuid;

use crate::model::{
    Application, Brand, CertificateKeyPair, Consent, Device, DeviceClass, DeviceId, Event, Flow,
    FlowId, Group, GroupId, Invitation, NewGroup, NewUser, OutboxEntry, Outpost, Policy,
    PolicyBinding, PolicyBindingId, PolicyId, PropertyMapping, Provider, ProviderId, RefreshToken,
    Stage, StageBinding, StageId, Timestamp, Token, User, UserId,
};

use super::{StoreError, StoreResult};

/// A page request for list endpoints. `order_by` names a field from the adapter's allow
/// list for that resource; unknown names fall back to the default order.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub offset: u64,
    pub limit: u64,
    pub search: Option<String>,
    pub order_by: Option<String>,
    pub descending: bool,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

pub trait UserReads {
    fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    /// Case-insensitive match on the username.
    fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// Case-insensitive match on the email; the lowest id wins when several share it.
    fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Search covers username, name and email. Order fields: pk, username, name, email,
    /// last_login.
    fn list_users(&self, query: &ListQuery) -> StoreResult<Page<User>>;
    fn count_users(&self) -> StoreResult<u64>;
    /// The groups the user is a direct member of.
    fn groups_of_user(&self, id: UserId) -> StoreResult<Vec<Group>>;
}

pub trait UserWrites {
    fn insert_user(&self, new: &NewUser) -> StoreResult<User>;
    /// Writes every mutable field (username, name, email, is_active, type, path,
    /// attributes); `Conflict("username")` when the name is taken.
    fn update_user(&self, user: &User) -> StoreResult<()>;
    fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<&str>,
        changed: Timestamp,
    ) -> StoreResult<()>;
    fn set_last_login(&self, id: UserId, at: Timestamp) -> StoreResult<()>;
    fn delete_user(&self, id: UserId) -> StoreResult<()>;
}

pub trait GroupReads {
    fn group_by_id(&self, id: GroupId) -> StoreResult<Option<Group>>;
    fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>>;
    /// Search covers the name. Order fields: name, num_pk, is_superuser.
    fn list_groups(&self, query: &ListQuery) -> StoreResult<Page<Group>>;
    fn all_groups(&self) -> StoreResult<Vec<Group>>;
    fn members_of_group(&self, id: GroupId) -> StoreResult<Vec<UserId>>;
}

pub trait GroupWrites {
    fn insert_group(&self, new: &NewGroup) -> StoreResult<Group>;
    /// `Conflict("name")` when taken, `Conflict("parent")` for an unknown parent.
    fn update_group(&self, group: &Group) -> StoreResult<()>;
    fn delete_group(&self, id: GroupId) -> StoreResult<()>;
    /// Idempotent.
    fn add_member(&self, group: GroupId, user: UserId) -> StoreResult<()>;
    /// Idempotent.
    fn remove_member(&self, group: GroupId, user: UserId) -> StoreResult<()>;
}

pub trait TokenReads {
    fn token_by_identifier(&self, identifier: &str) -> StoreResult<Option<Token>>;
    fn token_by_key_digest(&self, digest: &str) -> StoreResult<Option<Token>>;
    /// `owner` limits the list to one user's tokens. Search covers identifier and
    /// description. Order fields: identifier, expires, created.
    fn list_tokens(&self, query: &ListQuery, owner: Option<UserId>) -> StoreResult<Page<Token>>;
}

pub trait TokenWrites {
    /// `Conflict("identifier")` when taken.
    fn insert_token(&self, token: &Token) -> StoreResult<()>;
    fn delete_token(&self, identifier: &str) -> StoreResult<()>;
    fn delete_expired_tokens(&self, now: Timestamp) -> StoreResult<u64>;
}

pub trait FlowReads {
    fn all_flows(&self) -> StoreResult<Vec<Flow>>;
    fn all_stages(&self) -> StoreResult<Vec<Stage>>;
    fn all_bindings(&self) -> StoreResult<Vec<StageBinding>>;
}

pub trait FlowWrites {
    /// `Conflict("slug")` when taken.
    fn insert_flow(&self, flow: &Flow) -> StoreResult<()>;
    fn update_flow(&self, flow: &Flow) -> StoreResult<()>;
    /// Removes the flow's bindings too.
    fn delete_flow(&self, id: FlowId) -> StoreResult<()>;
    /// `Conflict("name")` when taken.
    fn insert_stage(&self, stage: &Stage) -> StoreResult<()>;
    fn update_stage(&self, stage: &Stage) -> StoreResult<()>;
    fn delete_stage(&self, id: StageId) -> StoreResult<()>;
    fn insert_binding(&self, binding: &StageBinding) -> StoreResult<()>;
    /// Writes every field but the id (flow and stage included); `NotFound` for an unknown
    /// binding, `Conflict("flow")` / `Conflict("stage")` for an unknown flow or stage.
    fn update_binding(&self, binding: &StageBinding) -> StoreResult<()>;
    fn delete_binding(&self, binding: &StageBinding) -> StoreResult<()>;
}

/// Which events a list shows (authentik's event filters); `None` fields match anything.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Part of the action name, ignoring case.
    pub action: Option<String>,
    /// Exactly the acting user's username, or a `username` in the context (a failed
    /// login names who was tried).
    pub username: Option<String>,
    /// Exactly this client address.
    pub client_ip: Option<String>,
}

pub trait EventReads {
    /// Newest first. Search covers the action and the username.
    fn list_events(&self, query: &ListQuery) -> StoreResult<Page<Event>>;
    /// `list_events` narrowed by `filter`. Order fields: created, action.
    fn list_events_filtered(
        &self,
        query: &ListQuery,
        filter: &EventFilter,
    ) -> StoreResult<Page<Event>>;
    fn event(&self, id: Uuid) -> StoreResult<Option<Event>>;
}

pub trait EventWrites {
    fn insert_event(&self, event: &Event) -> StoreResult<()>;
}

/// Small named values the installation keeps (installation id, setup-link digest).
pub trait MetaReads {
    fn meta(&self, key: &str) -> StoreResult<Option<String>>;
}

pub trait MetaWrites {
    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;
    fn delete_meta(&self, key: &str) -> StoreResult<()>;
}

/// The email outbox: messages waiting to be sent, sent, or given up on.
pub trait OutboxReads {
    /// Pending entries whose `next_attempt_at` is at or before `now`, the longest
    /// waiting first, at most `limit` of them.
    fn outbox_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxEntry>>;
    fn outbox_entry(&self, id: uuid::Uuid) -> StoreResult<Option<OutboxEntry>>;
    /// Newest first by default. Search covers the recipient, the subject and the status.
    /// Order fields: created, next_attempt_at, status, to.
    fn list_outbox(&self, query: &ListQuery) -> StoreResult<Page<OutboxEntry>>;
}

pub trait OutboxWrites {
    /// Stores the entry as given (any status); `Conflict("id")` when the id is taken.
    fn enqueue_email(&self, entry: &OutboxEntry) -> StoreResult<()>;
    /// Counts the attempt, sets status `Sent` and `sent_at`; `NotFound` for an unknown id.
    fn mark_email_sent(&self, id: uuid::Uuid, at: Timestamp) -> StoreResult<()>;
    /// Counts the attempt and keeps `error`. `Some(at)` reschedules (status stays
    /// `Pending`); `None` gives up (status `Failed`). `NotFound` for an unknown id.
    fn mark_email_failed_attempt(
        &self,
        id: uuid::Uuid,
        error: &str,
        next_attempt_at: Option<Timestamp>,
    ) -> StoreResult<()>;
}

pub trait PolicyReads {
    /// Ordered by name, ignoring case.
    fn all_policies(&self) -> StoreResult<Vec<Policy>>;
    /// Grouped by target, in `order` within each target.
    fn all_policy_bindings(&self) -> StoreResult<Vec<PolicyBinding>>;
}

pub trait PolicyWrites {
    /// `Conflict("name")` when the name is taken, ignoring case.
    fn insert_policy(&self, policy: &Policy) -> StoreResult<()>;
    /// `Conflict("name")` when the name is taken, ignoring case.
    fn update_policy(&self, policy: &Policy) -> StoreResult<()>;
    /// Removes the bindings whose subject is the policy too.
    fn delete_policy(&self, id: PolicyId) -> StoreResult<()>;
    /// `Conflict("policy")` when the subject is a policy that does not exist. Targets and
    /// group or user subjects are not checked.
    fn insert_policy_binding(&self, binding: &PolicyBinding) -> StoreResult<()>;
    /// Replaces the whole binding (target and subject included).
    fn update_policy_binding(&self, binding: &PolicyBinding) -> StoreResult<()>;
    fn delete_policy_binding(&self, id: PolicyBindingId) -> StoreResult<()>;
}

pub trait InvitationReads {
    fn invitation_by_id(&self, id: Uuid) -> StoreResult<Option<Invitation>>;
    /// Search covers the name. Order fields: name, expires, created.
    fn list_invitations(&self, query: &ListQuery) -> StoreResult<Page<Invitation>>;
}

pub trait InvitationWrites {
    /// `Conflict("name")` when the name is taken; `Conflict("created_by")` for an unknown
    /// creator. The creator's deletion later leaves the invitation with no creator.
    fn insert_invitation(&self, invitation: &Invitation) -> StoreResult<()>;
    fn delete_invitation(&self, id: Uuid) -> StoreResult<()>;
    /// The same rule as `Invitation::is_expired`; returns how many went.
    fn delete_expired_invitations(&self, now: Timestamp) -> StoreResult<u64>;
}

/// Remembered consents. Reads return expired consents too until they are purged: the
/// store does not read the clock, the caller compares `expires` with its own.
pub trait ConsentReads {
    fn consent(&self, user: UserId, application: Uuid) -> StoreResult<Option<Consent>>;
    /// Ordered by application.
    fn consents_of_user(&self, user: UserId) -> StoreResult<Vec<Consent>>;
    /// Ordered by application by default. Search covers the username. Order fields:
    /// application, expires.
    fn list_consents(&self, query: &ListQuery, filter: ConsentFilter)
    -> StoreResult<Page<Consent>>;
    /// Consents whose hyphenated id starts with `prefix` (the API's short ids), in id
    /// order.
    fn consents_by_id_prefix(&self, prefix: &str) -> StoreResult<Vec<Consent>>;
}

/// Which consents a list shows; `None` fields match anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsentFilter {
    pub user: Option<UserId>,
    pub application: Option<Uuid>,
}

pub trait ConsentWrites {
    /// Stores the consent, replacing (id included) any the user gave the same application;
    /// `Conflict("user")` for an unknown user, `Conflict("id")` when the id belongs to a
    /// consent for another user or application. A user's consents go with the user.
    fn upsert_consent(&self, consent: &Consent) -> StoreResult<()>;
    fn delete_consent(&self, id: Uuid) -> StoreResult<()>;
    /// Consents whose `expires` is at or before `now`; returns how many went.
    fn delete_expired_consents(&self, now: Timestamp) -> StoreResult<u64>;
}

pub trait BrandReads {
    /// Ordered by domain, ignoring case.
    fn all_brands(&self) -> StoreResult<Vec<Brand>>;
}

pub trait BrandWrites {
    /// `Conflict("domain")` when the domain is taken, ignoring case; `Conflict("default")`
    /// when the brand is default and another brand already is.
    fn insert_brand(&self, brand: &Brand) -> StoreResult<()>;
    /// The same conflicts as `insert_brand`.
    fn update_brand(&self, brand: &Brand) -> StoreResult<()>;
    fn delete_brand(&self, id: Uuid) -> StoreResult<()>;
}

pub trait ApplicationReads {
    /// Ordered by name ignoring case, then slug.
    fn all_applications(&self) -> StoreResult<Vec<Application>>;
}

pub trait ApplicationWrites {
    /// `Conflict("slug")` when the slug is taken.
    fn insert_application(&self, application: &Application) -> StoreResult<()>;
    /// The same conflict as `insert_application`; `NotFound` for an unknown id.
    fn update_application(&self, application: &Application) -> StoreResult<()>;
    /// Removes the policy bindings whose target is the application, and the consents
    /// given to it, too.
    fn delete_application(&self, id: Uuid) -> StoreResult<()>;
}

pub trait KeypairReads {
    /// Ordered by name, then id.
    fn all_keypairs(&self) -> StoreResult<Vec<CertificateKeyPair>>;
}

pub trait KeypairWrites {
    /// `Conflict("name")` when the name is taken.
    fn insert_keypair(&self, keypair: &CertificateKeyPair) -> StoreResult<()>;
    /// Renames the pair, the only change a stored pair allows (a new key is a new pair);
    /// `Conflict("name")` when taken, `NotFound` for an unknown id.
    fn update_keypair(&self, id: Uuid, name: &str) -> StoreResult<()>;
    fn delete_keypair(&self, id: Uuid) -> StoreResult<()>;
}

pub trait ProviderReads {
    /// Ordered by name.
    fn all_providers(&self) -> StoreResult<Vec<Provider>>;
}

pub trait ProviderWrites {
    /// Stores the provider under a new id, which it returns (`provider.id` is ignored);
    /// `Conflict("name")` or `Conflict("client_id")` when taken.
    fn insert_provider(&self, provider: &Provider) -> StoreResult<ProviderId>;
    /// The same conflicts as `insert_provider`; `NotFound` for an unknown id.
    fn update_provider(&self, provider: &Provider) -> StoreResult<()>;
    /// Detaches the provider from its applications and drops its refresh tokens.
    fn delete_provider(&self, id: ProviderId) -> StoreResult<()>;
}

pub trait PropertyMappingReads {
    /// Ordered by name.
    fn all_property_mappings(&self) -> StoreResult<Vec<PropertyMapping>>;
}

pub trait PropertyMappingWrites {
    /// `Conflict("name")` or `Conflict("managed")` when taken.
    fn insert_property_mapping(&self, mapping: &PropertyMapping) -> StoreResult<()>;
    fn update_property_mapping(&self, mapping: &PropertyMapping) -> StoreResult<()>;
    /// Providers naming the mapping keep the id; the catalog skips ids it does not know.
    fn delete_property_mapping(&self, id: Uuid) -> StoreResult<()>;
}

/// Which devices a list shows; `None` fields match anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceFilter {
    pub user: Option<UserId>,
    pub class: Option<DeviceClass>,
    pub confirmed: Option<bool>,
}

pub trait DeviceReads {
    fn device(&self, id: DeviceId) -> StoreResult<Option<Device>>;
    /// By the WebAuthn credential id (base64url), whoever's it is.
    fn device_by_credential_id(&self, credential_id: &str) -> StoreResult<Option<Device>>;
    /// Ordered by id (oldest first).
    fn devices(&self, filter: DeviceFilter) -> StoreResult<Vec<Device>>;
}

pub trait DeviceWrites {
    /// Stores the device under a new id, which it returns (`device.id` is ignored);
    /// `Conflict("credential_id")` when that WebAuthn credential is registered already,
    /// `Conflict("user")` for an unknown user.
    fn insert_device(&self, device: &Device) -> StoreResult<DeviceId>;
    /// Writes every field but the id and the user; `NotFound` for an unknown id.
    fn update_device(&self, device: &Device) -> StoreResult<()>;
    fn delete_device(&self, id: DeviceId) -> StoreResult<()>;
}

pub trait OutpostReads {
    /// Ordered by name.
    fn all_outposts(&self) -> StoreResult<Vec<Outpost>>;
}

pub trait OutpostWrites {
    /// `Conflict("name")` or `Conflict("managed")` when taken.
    fn insert_outpost(&self, outpost: &Outpost) -> StoreResult<()>;
    /// The same conflicts; `NotFound` for an unknown id.
    fn update_outpost(&self, outpost: &Outpost) -> StoreResult<()>;
    fn delete_outpost(&self, id: Uuid) -> StoreResult<()>;
}

/// OAuth refresh tokens, found by the SHA-256 of the token.
pub trait OAuthTokenReads {
    fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;
    /// Unexpired or not, newest first.
    fn refresh_tokens_of_user(&self, user: UserId) -> StoreResult<Vec<RefreshToken>>;
    /// Used, revoked and expired ones included; newest first by default. Search covers
    /// the username and the provider's name. Order fields: created, expires, provider.
    fn list_refresh_tokens(
        &self,
        query: &ListQuery,
        filter: RefreshTokenFilter,
    ) -> StoreResult<Page<RefreshToken>>;
    /// Tokens whose hash starts with `prefix` (the API's short ids), in hash order.
    fn refresh_tokens_by_hash_prefix(&self, prefix: &str) -> StoreResult<Vec<RefreshToken>>;
}

/// Which refresh tokens a list shows; `None` fields match anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefreshTokenFilter {
    pub user: Option<UserId>,
    pub provider: Option<ProviderId>,
}

pub trait OAuthTokenWrites {
    /// `Conflict("user")` for an unknown user.
    fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;
    /// Marks the token used; `false` when it already was (or is unknown), so two
    /// concurrent refreshes with one token cannot both succeed.
    fn use_refresh_token(&self, token_hash: &str) -> StoreResult<bool>;
    /// Revokes every token of the grant (the family); returns how many changed.
    fn revoke_grant(&self, grant: Uuid) -> StoreResult<u64>;
    /// Tokens expired at or before `now`; returns how many went.
    fn delete_expired_refresh_tokens(&self, now: Timestamp) -> StoreResult<u64>;
}

/// Everything a read scope may do.
pub trait ReadTx:
    UserReads
    + GroupReads
    + TokenReads
    + FlowReads
    + EventReads
    + MetaReads
    + OutboxReads
    + PolicyReads
    + InvitationReads
    + ConsentReads
    + BrandReads
    + ApplicationReads
    + KeypairReads
    + ProviderReads
    + PropertyMappingReads
    + OAuthTokenReads
    + OutpostReads
    + DeviceReads
{
}

/// Everything a write scope may do.
pub trait WriteTx:
    ReadTx
    + UserWrites
    + GroupWrites
    + TokenWrites
    + FlowWrites
    + EventWrites
    + MetaWrites
    + OutboxWrites
    + PolicyWrites
    + InvitationWrites
    + ConsentWrites
    + BrandWrites
    + ApplicationWrites
    + KeypairWrites
    + ProviderWrites
    + PropertyMappingWrites
    + OAuthTokenWrites
    + OutpostWrites
    + DeviceWrites
{
}

impl<T> ReadTx for T where
    T: UserReads
        + GroupReads
        + TokenReads
        + FlowReads
        + EventReads
        + MetaReads
        + OutboxReads
        + PolicyReads
        + InvitationReads
        + ConsentReads
        + BrandReads
        + ApplicationReads
        + KeypairReads
        + ProviderReads
        + PropertyMappingReads
        + OAuthTokenReads
        + OutpostReads
        + DeviceReads
{
}

impl<T> WriteTx for T where
    T: ReadTx
        + UserWrites
        + GroupWrites
        + TokenWrites
        + FlowWrites
        + EventWrites
        + MetaWrites
        + OutboxWrites
        + PolicyWrites
        + InvitationWrites
        + ConsentWrites
        + BrandWrites
        + ApplicationWrites
        + KeypairWrites
        + ProviderWrites
        + PropertyMappingWrites
        + OAuthTokenWrites
        + OutpostWrites
        + DeviceWrites
{
}

/// The relational store. A read scope sees one consistent snapshot; a write scope is one
/// transaction, committed when the closure returns `Ok` and rolled back on `Err` or panic.
pub trait Store: Send + Sync + 'static {
    fn read_scope(&self, scope: &mut dyn FnMut(&dyn ReadTx) -> StoreResult<()>) -> StoreResult<()>;
    fn write_scope(
        &self,
        scope: &mut dyn FnMut(&dyn WriteTx) -> StoreResult<()>,
    ) -> StoreResult<()>;
    /// A cheap query proving the store answers (for `/-/health/ready/`).
    fn check_health(&self) -> StoreResult<()>;
    fn backend_name(&self) -> &'static str;
}

/// Value-returning scopes over any `Store`.
pub trait StoreExt {
    fn read<T>(&self, scope: impl FnOnce(&dyn ReadTx) -> StoreResult<T>) -> StoreResult<T>;
    fn write<T>(&self, scope: impl FnOnce(&dyn WriteTx) -> StoreResult<T>) -> StoreResult<T>;
}

impl<S: Store + ?Sized> StoreExt for S {
    fn read<T>(&self, scope: impl FnOnce(&dyn ReadTx) -> StoreResult<T>) -> StoreResult<T> {
        let mut scope = Some(scope);
        let mut result = None;
        self.read_scope(&mut |tx| {
            let scope = scope
                .take()
                .ok_or_else(|| StoreError::Backend("scope re-run".into()))?;
            result = Some(scope(tx)?);
            Ok(())
        })?;
        result.ok_or_else(|| StoreError::Backend("scope produced nothing".into()))
    }

    fn write<T>(&self, scope: impl FnOnce(&dyn WriteTx) -> StoreResult<T>) -> StoreResult<T> {
        let mut scope = Some(scope);
        let mut result = None;
        self.write_scope(&mut |tx| {
            let scope = scope
                .take()
                .ok_or_else(|| StoreError::Backend("scope re-run".into()))?;
            result = Some(scope(tx)?);
            Ok(())
        })?;
        result.ok_or_else(|| StoreError::Backend("scope produced nothing".into()))
    }
}
