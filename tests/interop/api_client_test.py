#!/usr/bin/env python3
"""gatehouse against authentik's own Python API client and an executor script.

Part one drives the REST API through the official `authentik-client` package, whose
pydantic models reject any response that does not match authentik's OpenAPI schema
(missing required fields, wrong types, unknown enum values). Part two drives the flow
executor with plain `requests`, the way scripts written for authentik log in.

Environment:
    GATEHOUSE_URL          base URL, e.g. http://127.0.0.1:9000
    GATEHOUSE_TOKEN        an API token of a superuser (the bootstrap token)
    GATEHOUSE_ADMIN_PASSWORD  the bootstrap admin's password (user `akadmin`)

Exits 0 when every check passes, 1 otherwise. Ends with the line `N passed, N failed`.
"""

from __future__ import annotations

import os
import secrets
import sys
import traceback
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlsplit

import authentik_client
import requests
from authentik_client.api.admin_api import AdminApi
from authentik_client.api.core_api import CoreApi
from authentik_client.api.events_api import EventsApi
from authentik_client.api.flows_api import FlowsApi
from authentik_client.api.oauth2_api import Oauth2Api
from authentik_client.api.propertymappings_api import PropertymappingsApi
from authentik_client.api.providers_api import ProvidersApi
from authentik_client.api.stages_api import StagesApi
from authentik_client.exceptions import (
    ApiException,
    ForbiddenException,
    NotFoundException,
    UnauthorizedException,
)
from authentik_client.models import (
    Application,
    ApplicationRequest,
    ClientTypeEnum,
    ConsentStageModeEnum,
    Event,
    EventActions,
    FlowDesignationEnum,
    Group,
    GroupRequest,
    IntentEnum,
    MatchingModeEnum,
    OAuth2Provider,
    OAuth2ProviderRequest,
    OAuth2ProviderSetupURLs,
    PaginatedEventList,
    PaginatedFlowList,
    PaginatedGroupList,
    PaginatedOAuth2ProviderList,
    PaginatedProviderList,
    PaginatedScopeMappingList,
    PaginatedTokenModelList,
    PaginatedUserConsentList,
    PaginatedUserList,
    Pagination,
    PasswordChallenge,
    PatchedConsentStageRequest,
    PatchedOAuth2ProviderRequest,
    PatchedUserRequest,
    RedirectChallenge,
    RedirectURIRequest,
    ScopeMapping,
    ScopeMappingRequest,
    SessionUser,
    Token,
    TokenModel,
    TokenRequest,
    TokenView,
    User,
    UserConsent,
    UserAccountRequest,
    UserPasswordSetRequest,
    UserRequest,
    UserTypeEnum,
    Version,
)

AUTH_FLOW = "default-authentication-flow"
CONSENT_FLOW = "default-provider-authorization-implicit-consent"
EXPLICIT_CONSENT_FLOW = "default-provider-authorization-explicit-consent"
CONSENT_STAGE = "default-provider-authorization-consent"
AUDIT_REDIRECT = "https://audit.example.com/callback"
INVALIDATION_FLOW = "default-invalidation-flow"
EMAIL_SCOPE = "goauthentik.io/providers/oauth2/scope-email"
DEFAULT_FLOWS = ("default-authentication-flow", "default-invalidation-flow", "initial-setup")
HTTP_TIMEOUT = 10


class CheckFailed(Exception):
    """A check whose assertion did not hold."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def expect_equal(actual, wanted, what: str) -> None:
    if actual != wanted:
        raise CheckFailed(f"{what}: wanted {wanted!r}, got {actual!r}")


@dataclass
class Report:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def check(self, name: str, step: Callable[[], None]) -> bool:
        try:
            step()
        except CheckFailed as failure:
            self.failed.append(name)
            print(f"FAIL  {name}: {failure}", flush=True)
            return False
        except ApiException as error:
            self.failed.append(name)
            print(f"FAIL  {name}: HTTP {error.status} {error.reason}: {error.body}", flush=True)
            return False
        except Exception as error:  # noqa: BLE001 - a client-side rejection is a failure
            self.failed.append(name)
            print(f"FAIL  {name}: {where(error)}: {type(error).__name__}: {error}", flush=True)
            return False
        self.passed.append(name)
        print(f"ok    {name}", flush=True)
        return True


def where(error: BaseException) -> str:
    """The line of this script that made the failing call (pydantic's own trace is long)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == __file__]
    return f"line {frames[-1].lineno}" if frames else "?"


def client_for(base: str, token: str) -> authentik_client.ApiClient:
    configuration = authentik_client.Configuration(host=f"{base}/api/v3", access_token=token)
    return authentik_client.ApiClient(configuration)


@dataclass
class State:
    """What the API steps create, so later steps (and the clean-up) can find it."""

    suffix: str
    password: str
    user: User | None = None
    group: Group | None = None
    token: Token | None = None
    token_key: str | None = None
    scope_mapping: ScopeMapping | None = None
    provider: OAuth2Provider | None = None
    application: Application | None = None
    audit_provider: OAuth2Provider | None = None
    audit_application: Application | None = None
    # The default consent stage's pk and mode before the audit checks changed it.
    consent_stage: tuple[str, ConsentStageModeEnum] | None = None

    @property
    def username(self) -> str:
        return f"interop-{self.suffix}"


def api_checks(report: Report, base: str, token: str, state: State) -> None:
    with client_for(base, token) as api_client:
        core = CoreApi(api_client)
        flows = FlowsApi(api_client)
        admin = AdminApi(api_client)

        def version() -> None:
            answer = admin.admin_version_retrieve()
            expect(isinstance(answer, Version), f"not a Version: {type(answer)}")
            expect(answer.version_current != "", "version_current is empty")
            expect(isinstance(answer.outdated, bool), "outdated is not a bool")

        def me() -> None:
            answer = core.core_users_me_retrieve()
            expect(isinstance(answer, SessionUser), f"not a SessionUser: {type(answer)}")
            expect_equal(answer.user.username, "akadmin", "me.user.username")
            expect(answer.user.is_superuser, "akadmin is not a superuser in me/")
            names = [group.name for group in answer.user.groups]
            expect("authentik Admins" in names, f"me.user.groups lacks 'authentik Admins': {names}")
            expect(answer.original is None, "original is set without impersonation")

        def list_users() -> None:
            answer = core.core_users_list()
            expect(isinstance(answer, PaginatedUserList), f"not a PaginatedUserList: {type(answer)}")
            expect(isinstance(answer.pagination, Pagination), "pagination not parsed")
            expect(answer.pagination.count >= 1, f"count {answer.pagination.count}")
            expect_equal(answer.pagination.current, 1, "pagination.current")
            expect_equal(len(answer.results), answer.pagination.end_index, "results vs end_index")
            admins = [user for user in answer.results if user.username == "akadmin"]
            expect(len(admins) == 1, "akadmin not listed")
            expect(admins[0].is_superuser, "akadmin listed without is_superuser")

        def create_user() -> None:
            request = UserRequest(
                username=state.username,
                name="Interop Tester",
                email=f"{state.username}@example.com",
                is_active=True,
                path="users/interop",
                type=UserTypeEnum.INTERNAL,
                attributes={"team": "qa", "level": 3},
            )
            created = core.core_users_create(user_request=request)
            expect(isinstance(created, User), f"not a User: {type(created)}")
            expect_equal(created.username, state.username, "created.username")
            expect_equal(created.name, "Interop Tester", "created.name")
            expect_equal(created.email, f"{state.username}@example.com", "created.email")
            expect_equal(created.attributes, {"team": "qa", "level": 3}, "created.attributes")
            expect_equal(created.path, "users/interop", "created.path")
            expect_equal(created.type, UserTypeEnum.INTERNAL, "created.type")
            expect(created.is_superuser is False, "a new user is a superuser")
            expect(created.groups == [] or created.groups is None, f"groups {created.groups}")
            state.user = created

        def retrieve_user() -> None:
            expect(state.user is not None, "no user was created")
            fetched = core.core_users_retrieve(id=state.user.pk)
            expect_equal(fetched.pk, state.user.pk, "retrieved pk")
            expect_equal(fetched.uuid, state.user.uuid, "retrieved uuid")
            expect_equal(fetched.username, state.username, "retrieved username")
            expect_equal(fetched.attributes, {"team": "qa", "level": 3}, "retrieved attributes")

        def paginate_users() -> None:
            first = core.core_users_list(page_size=1, ordering="pk")
            expect(first.pagination.count >= 2, f"count {first.pagination.count} after create")
            expect_equal(len(first.results), 1, "results on a page of one")
            expect_equal(first.pagination.total_pages, first.pagination.count, "total_pages")
            expect_equal(first.pagination.next, 2, "pagination.next")
            second = core.core_users_list(page_size=1, page=2, ordering="pk")
            expect_equal(second.pagination.previous, 1, "pagination.previous")
            expect(second.results[0].pk != first.results[0].pk, "page 2 repeats page 1")
            found = core.core_users_list(search=state.username)
            expect_equal([user.username for user in found.results], [state.username], "search")

        def update_user() -> None:
            expect(state.user is not None, "no user was created")
            patch = PatchedUserRequest(name="Renamed Tester", attributes={"team": "ops"})
            updated = core.core_users_partial_update(id=state.user.pk, patched_user_request=patch)
            expect_equal(updated.name, "Renamed Tester", "patched name")
            expect_equal(updated.attributes, {"team": "ops"}, "patched attributes")
            expect_equal(updated.email, f"{state.username}@example.com", "email kept by PATCH")
            again = core.core_users_retrieve(id=state.user.pk)
            expect_equal(again.name, "Renamed Tester", "name after re-read")

        def set_password() -> None:
            expect(state.user is not None, "no user was created")
            before = core.core_users_retrieve(id=state.user.pk).password_change_date
            request = UserPasswordSetRequest(password=state.password)
            answer = core.core_users_set_password_create(
                id=state.user.pk, user_password_set_request=request
            )
            expect(answer is None, f"set_password returned a body: {answer!r}")
            after = core.core_users_retrieve(id=state.user.pk).password_change_date
            expect(after >= before, f"password_change_date went back: {before} -> {after}")

        def create_group() -> None:
            expect(state.user is not None, "no user was created")
            request = GroupRequest(name=f"interop-group-{state.suffix}", attributes={"x": 1})
            group = core.core_groups_create(group_request=request)
            expect(isinstance(group, Group), f"not a Group: {type(group)}")
            expect_equal(group.name, f"interop-group-{state.suffix}", "group.name")
            expect_equal(group.attributes, {"x": 1}, "group.attributes")
            expect(group.is_superuser is False, "new group is a superuser group")
            expect(not group.users, f"new group has members: {group.users}")
            state.group = group
            core.core_groups_add_user_create(
                group_uuid=group.pk, user_account_request=UserAccountRequest(pk=state.user.pk)
            )

        def search_groups() -> None:
            expect(state.group is not None and state.user is not None, "no group or user")
            answer = core.core_groups_list(search=f"interop-group-{state.suffix}")
            expect(isinstance(answer, PaginatedGroupList), f"not a PaginatedGroupList: {type(answer)}")
            expect_equal(answer.pagination.count, 1, "groups found by search")
            found = answer.results[0]
            expect_equal(found.pk, state.group.pk, "found group pk")
            expect_equal(found.users, [state.user.pk], "group members")
            expect_equal([user.username for user in found.users_obj], [state.username], "users_obj")
            member = core.core_users_retrieve(id=state.user.pk)
            expect_equal(member.groups, [state.group.pk], "user.groups after add_user")
            everything = core.core_groups_list()
            names = {group.name for group in everything.results}
            expect("authentik Admins" in names, f"admins group not listed: {names}")

        def create_token() -> None:
            expect(state.user is not None, "no user was created")
            request = TokenRequest(
                identifier=f"interop-token-{state.suffix}",
                intent=IntentEnum.API,
                user=state.user.pk,
                description="made by the interop test",
                expiring=False,
            )
            token = core.core_tokens_create(token_request=request)
            expect(isinstance(token, Token), f"not a Token: {type(token)}")
            expect_equal(token.identifier, f"interop-token-{state.suffix}", "token.identifier")
            expect_equal(token.intent, IntentEnum.API, "token.intent")
            expect_equal(token.user, state.user.pk, "token.user")
            expect_equal(token.user_obj.username, state.username, "token.user_obj.username")
            expect(token.expiring is False and token.expires is None, "non-expiring token expires")
            state.token = token
            fetched = core.core_tokens_retrieve(identifier=token.identifier)
            expect_equal(fetched.pk, token.pk, "retrieved token pk")
            listed = {listed.identifier: listed for listed in core.core_tokens_list().results}
            expect(token.identifier in listed, "a superuser does not list the new token")
            bootstrap = listed.get("authentik-bootstrap-token")
            expect(bootstrap is not None, f"bootstrap token not listed: {sorted(listed)}")
            expect_equal(bootstrap.user_obj.username, "akadmin", "bootstrap token owner")

        def view_key() -> None:
            expect(state.token is not None, "no token was created")
            view = core.core_tokens_view_key_retrieve(identifier=state.token.identifier)
            expect(isinstance(view, TokenView), f"not a TokenView: {type(view)}")
            expect(len(view.key) >= 32, f"key too short: {len(view.key)}")
            state.token_key = view.key

        def use_token() -> None:
            expect(state.token_key is not None, "no key")
            with client_for(base, state.token_key) as own_client:
                own = CoreApi(own_client)
                answer = own.core_users_me_retrieve()
                expect_equal(answer.user.username, state.username, "me/ with the new token")
                expect(answer.user.is_superuser is False, "new user is superuser in me/")
                expect_equal(
                    [group.name for group in answer.user.groups],
                    [f"interop-group-{state.suffix}"],
                    "me.user.groups",
                )
                mine = own.core_tokens_list()
                expect_equal(
                    [token.identifier for token in mine.results],
                    [state.token.identifier],
                    "a user lists only their own tokens",
                )
                try:
                    own.core_users_list()
                except (ForbiddenException, UnauthorizedException):
                    pass
                else:
                    raise CheckFailed("a non-superuser token listed all users")

        def delete_token() -> None:
            expect(state.token is not None and state.token_key is not None, "no token")
            answer = core.core_tokens_destroy(identifier=state.token.identifier)
            expect(answer is None, f"destroy returned a body: {answer!r}")
            try:
                core.core_tokens_retrieve(identifier=state.token.identifier)
            except NotFoundException:
                pass
            else:
                raise CheckFailed("deleted token still retrievable")
            with client_for(base, state.token_key) as own_client:
                try:
                    CoreApi(own_client).core_users_me_retrieve()
                except (ForbiddenException, UnauthorizedException):
                    pass
                else:
                    raise CheckFailed("deleted token still authenticates")
            state.token = None

        def list_flows() -> None:
            answer = flows.flows_instances_list()
            expect(isinstance(answer, PaginatedFlowList), f"not a PaginatedFlowList: {type(answer)}")
            slugs = {flow.slug for flow in answer.results}
            missing = [slug for slug in DEFAULT_FLOWS if slug not in slugs]
            expect(not missing, f"default flows missing: {missing}")
            expect_equal(answer.pagination.count, len(answer.results), "flow count on one page")

        def retrieve_flow() -> None:
            flow = flows.flows_instances_retrieve(slug=AUTH_FLOW)
            expect_equal(flow.slug, AUTH_FLOW, "flow.slug")
            expect_equal(flow.designation, FlowDesignationEnum.AUTHENTICATION, "flow.designation")
            expect(len(flow.stages) >= 2, f"authentication flow has stages {flow.stages}")
            try:
                flows.flows_instances_retrieve(slug="no-such-flow")
            except NotFoundException:
                pass
            else:
                raise CheckFailed("an unknown flow slug was found")

        def openapi_document() -> None:
            # The published description must be valid OpenAPI, judged by a validator
            # nobody here wrote.
            from openapi_spec_validator import validate

            answer = requests.get(f"{base}/api/v3/schema/", timeout=10)
            expect_equal(answer.status_code, 200, "schema status")
            spec = answer.json()
            validate(spec)
            for path in ("/core/applications/", "/providers/oauth2/", "/events/events/"):
                expect(path in spec["paths"], f"the schema lacks {path}")

        report.check("api/v3/schema/ is a valid OpenAPI document", openapi_document)
        report.check("admin/version/ parses as Version", version)
        report.check("core/users/me/ parses as SessionUser", me)
        report.check("core/users/ parses as PaginatedUserList", list_users)
        if report.check("create a user", create_user):
            report.check("retrieve the user", retrieve_user)
            report.check("paginate and search users", paginate_users)
            report.check("partially update the user", update_user)
            report.check("set the user's password", set_password)
            if report.check("create a group and add the user", create_group):
                report.check("list groups with search", search_groups)
            if report.check("create a token for the user", create_token):
                if report.check("view the token's key", view_key):
                    report.check("use the token's key", use_token)
                report.check("delete the token", delete_token)
        report.check("list flows", list_flows)
        report.check(f"retrieve {AUTH_FLOW}", retrieve_flow)


def oauth_checks(report: Report, base: str, token: str, state: State) -> None:
    """An OAuth2 provider and a scope mapping made, attached and removed through the
    official client: every answer must parse in its pydantic models."""
    with client_for(base, token) as api_client:
        core = CoreApi(api_client)
        flows = FlowsApi(api_client)
        providers = ProvidersApi(api_client)
        mappings = PropertymappingsApi(api_client)
        slug = f"interop-app-{state.suffix}"

        def managed_mappings() -> None:
            answer = mappings.propertymappings_provider_scope_list(managed=[EMAIL_SCOPE])
            expect(isinstance(answer, PaginatedScopeMappingList), f"not a list: {type(answer)}")
            expect_equal([found.scope_name for found in answer.results], ["email"], "managed email")
            expect_equal(answer.results[0].managed, EMAIL_SCOPE, "managed key")

        def create_mapping() -> None:
            request = ScopeMappingRequest(
                name=f"interop-scope-{state.suffix}",
                scope_name="interop",
                description="Interop claims",
                expression='#{ interop: "yes", groups: user.groups }',
            )
            created = mappings.propertymappings_provider_scope_create(scope_mapping_request=request)
            expect(isinstance(created, ScopeMapping), f"not a ScopeMapping: {type(created)}")
            expect_equal(created.scope_name, "interop", "scope_name")
            expect(created.managed is None, f"a custom mapping is managed: {created.managed}")
            state.scope_mapping = created
            found = mappings.propertymappings_provider_scope_list(scope_name="interop")
            expect_equal([found.pk for found in found.results], [created.pk], "listed by scope_name")

        def create_provider() -> None:
            expect(state.scope_mapping is not None, "no scope mapping")
            email = mappings.propertymappings_provider_scope_list(managed=[EMAIL_SCOPE]).results[0]
            request = OAuth2ProviderRequest(
                name=f"interop-provider-{state.suffix}",
                authorization_flow=flows.flows_instances_retrieve(slug=CONSENT_FLOW).pk,
                invalidation_flow=flows.flows_instances_retrieve(slug=INVALIDATION_FLOW).pk,
                redirect_uris=[
                    RedirectURIRequest(
                        matching_mode=MatchingModeEnum.STRICT, url="https://rp.example.com/callback"
                    )
                ],
                property_mappings=[email.pk, state.scope_mapping.pk],
            )
            created = providers.providers_oauth2_create(o_auth2_provider_request=request)
            expect(isinstance(created, OAuth2Provider), f"not an OAuth2Provider: {type(created)}")
            expect(isinstance(created.pk, int), f"pk is not an integer: {created.pk!r}")
            expect_equal(created.client_type, ClientTypeEnum.CONFIDENTIAL, "client_type")
            expect_equal(len(created.client_id or ""), 40, "client_id length")
            expect_equal(len(created.client_secret or ""), 128, "client_secret length")
            expect_equal(created.redirect_uris[0].url, "https://rp.example.com/callback", "redirect")
            expect_equal(set(created.property_mappings), {email.pk, state.scope_mapping.pk}, "mappings")
            state.provider = created
            again = providers.providers_oauth2_retrieve(id=created.pk)
            expect_equal(again.client_secret, created.client_secret, "secret read back")
            listed = providers.providers_oauth2_list(search=created.client_id)
            expect(isinstance(listed, PaginatedOAuth2ProviderList), f"not a list: {type(listed)}")
            expect_equal([found.pk for found in listed.results], [created.pk], "found by client id")

        def rotate_secret() -> None:
            expect(state.provider is not None, "no provider")
            new_secret = "interop-" + secrets.token_urlsafe(32)
            patch = PatchedOAuth2ProviderRequest(client_secret=new_secret)
            patched = providers.providers_oauth2_partial_update(
                id=state.provider.pk, patched_o_auth2_provider_request=patch
            )
            expect_equal(patched.client_secret, new_secret, "rotated secret")
            expect_equal(patched.client_id, state.provider.client_id, "client_id kept")

        def attach_to_application() -> None:
            expect(state.provider is not None, "no provider")
            request = ApplicationRequest(name="Interop App", slug=slug, provider=state.provider.pk)
            app = core.core_applications_create(application_request=request)
            expect(isinstance(app, Application), f"not an Application: {type(app)}")
            expect_equal(app.provider, state.provider.pk, "application.provider")
            expect_equal(app.provider_obj.pk, state.provider.pk, "provider_obj.pk")
            expect_equal(app.provider_obj.assigned_application_slug, slug, "assigned slug")
            state.application = app
            provider = providers.providers_oauth2_retrieve(id=state.provider.pk)
            expect_equal(provider.assigned_application_slug, slug, "provider's application")
            everything = providers.providers_all_list()
            expect(isinstance(everything, PaginatedProviderList), f"not a list: {type(everything)}")
            expect(state.provider.pk in [found.pk for found in everything.results], "not in all/")

        def setup_urls() -> None:
            expect(state.application is not None, "no application")
            urls = providers.providers_oauth2_setup_urls_retrieve(id=state.provider.pk)
            expect(isinstance(urls, OAuth2ProviderSetupURLs), f"not setup URLs: {type(urls)}")
            expect_equal(urls.issuer, f"{base}/application/o/{slug}/", "issuer")
            expect_equal(urls.token, f"{base}/application/o/token/", "token endpoint")
            expect_equal(
                urls.provider_info,
                f"{base}/application/o/{slug}/.well-known/openid-configuration",
                "discovery URL",
            )
            expect_equal(urls.jwks, f"{base}/application/o/{slug}/jwks/", "jwks")

        def delete_all() -> None:
            expect(state.provider is not None and state.scope_mapping is not None, "nothing made")
            if state.application is not None:
                core.core_applications_destroy(slug=state.application.slug)
                state.application = None
            providers.providers_oauth2_destroy(id=state.provider.pk)
            try:
                providers.providers_oauth2_retrieve(id=state.provider.pk)
            except NotFoundException:
                pass
            else:
                raise CheckFailed("deleted provider still retrievable")
            state.provider = None
            mappings.propertymappings_provider_scope_destroy(pm_uuid=state.scope_mapping.pk)
            state.scope_mapping = None

        report.check("propertymappings/provider/scope/ lists the managed email scope", managed_mappings)
        if report.check("create a scope mapping", create_mapping):
            if report.check("create an OAuth2 provider", create_provider):
                report.check("rotate the provider's client secret", rotate_secret)
                if report.check("attach the provider to an application", attach_to_application):
                    report.check("provider setup URLs", setup_urls)
            report.check("delete the application, provider and scope mapping", delete_all)


def run_consent_flow(session: requests.Session, base: str, slug: str, query: str) -> str:
    """Answers an authorization flow's challenges (a consent) as a person would; returns
    where its final redirect points."""
    url = f"{base}/api/v3/flows/executor/{slug}/?query={quote(query, safe='')}"
    response = session.get(url, timeout=HTTP_TIMEOUT)
    for _ in range(4):
        expect_equal(response.status_code, 200, f"executor {slug}")
        challenge = response.json()
        component = challenge.get("component")
        if component == "xak-flow-redirect":
            return RedirectChallenge.from_dict(challenge).to
        expect_equal(component, "ak-stage-consent", f"challenge in {slug}")
        expect(isinstance(challenge.get("token"), str), f"consent without a token: {challenge}")
        answer = {"component": component, "token": challenge["token"]}
        response = session.post(url, json=answer, timeout=HTTP_TIMEOUT)
    raise CheckFailed(f"flow {slug} did not finish")


def authorize(session: requests.Session, base: str, client_id: str) -> str:
    """Sends a signed-in browser through an authorization request; returns the code."""
    query = urlencode({
        "client_id": client_id,
        "redirect_uri": AUDIT_REDIRECT,
        "response_type": "code",
        "scope": "openid offline_access",
        "state": "audit-state",
    })
    url = f"{base}/application/o/authorize/?{query}"
    for _ in range(10):
        parts = urlsplit(url)
        if url.startswith(AUDIT_REDIRECT):
            params = parse_qs(parts.query)
            expect_equal(params.get("state"), ["audit-state"], "state at the client")
            expect("code" in params, f"no code at the client: {url}")
            return params["code"][0]
        if parts.path.startswith("/if/flow/"):
            slug = parts.path.split("/")[3]
            url = urljoin(f"{base}/", run_consent_flow(session, base, slug, parts.query))
            continue
        response = session.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)
        expect(
            300 <= response.status_code < 400,
            f"GET {parts.path} answered {response.status_code}: {response.text[:300]}",
        )
        url = urljoin(url, response.headers["Location"])
    raise CheckFailed(f"no code after ten hops from {query}")


def token_request(base: str, provider: OAuth2Provider, form: dict) -> requests.Response:
    return requests.post(
        f"{base}/application/o/token/",
        data=form,
        auth=(provider.client_id, provider.client_secret),
        timeout=HTTP_TIMEOUT,
    )


def audit_checks(report: Report, base: str, token: str, admin_password: str, state: State) -> None:
    """A real authorization (explicit consent, remembered) leaves a refresh token, a
    consent and an event; each is read, and the first two deleted, through the official
    client: every answer must parse in its pydantic models."""
    with client_for(base, token) as api_client:
        core = CoreApi(api_client)
        oauth2 = Oauth2Api(api_client)
        events = EventsApi(api_client)
        stages = StagesApi(api_client)
        flows = FlowsApi(api_client)
        providers = ProvidersApi(api_client)
        mappings = PropertymappingsApi(api_client)
        slug = f"interop-audit-{state.suffix}"
        found: dict = {}

        def authorization() -> None:
            stage = next(
                stage for stage in stages.stages_consent_list(name=CONSENT_STAGE).results
                if stage.name == CONSENT_STAGE
            )
            state.consent_stage = (str(stage.pk), stage.mode)
            stages.stages_consent_partial_update(
                stage_uuid=stage.pk,
                patched_consent_stage_request=PatchedConsentStageRequest(
                    mode=ConsentStageModeEnum.PERMANENT
                ),
            )
            scopes = [
                f"goauthentik.io/providers/oauth2/scope-{scope}"
                for scope in ("openid", "offline_access")
            ]
            request = OAuth2ProviderRequest(
                name=f"interop-audit-{state.suffix}",
                authorization_flow=flows.flows_instances_retrieve(slug=EXPLICIT_CONSENT_FLOW).pk,
                invalidation_flow=flows.flows_instances_retrieve(slug=INVALIDATION_FLOW).pk,
                redirect_uris=[
                    RedirectURIRequest(matching_mode=MatchingModeEnum.STRICT, url=AUDIT_REDIRECT)
                ],
                property_mappings=[
                    mapping.pk
                    for mapping in mappings.propertymappings_provider_scope_list(managed=scopes).results
                ],
            )
            state.audit_provider = providers.providers_oauth2_create(o_auth2_provider_request=request)
            state.audit_application = core.core_applications_create(
                application_request=ApplicationRequest(
                    name="Interop Audit", slug=slug, provider=state.audit_provider.pk
                )
            )
            session = log_in(base, "akadmin", admin_password)
            code = authorize(session, base, state.audit_provider.client_id)
            answer = token_request(base, state.audit_provider, {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": AUDIT_REDIRECT,
            })
            expect_equal(answer.status_code, 200, f"code exchange: {answer.text[:300]}")
            found["refresh_token"] = answer.json().get("refresh_token")
            expect(found["refresh_token"], "no refresh token for offline_access")

        def list_refresh_tokens() -> None:
            answer = oauth2.oauth2_refresh_tokens_list(provider=state.audit_provider.pk)
            expect(isinstance(answer, PaginatedTokenModelList), f"not a list: {type(answer)}")
            expect_equal(answer.pagination.count, 1, "refresh tokens of the provider")
            listed = answer.results[0]
            expect(isinstance(listed, TokenModel), f"not a TokenModel: {type(listed)}")
            expect_equal(listed.user.username, "akadmin", "token owner")
            expect_equal(listed.provider.pk, state.audit_provider.pk, "token provider")
            expect("offline_access" in listed.scope, f"scope {listed.scope}")
            expect(not listed.is_expired and not listed.revoked, "a new token is dead")
            fetched = oauth2.oauth2_refresh_tokens_retrieve(id=listed.pk)
            expect_equal(fetched.pk, listed.pk, "retrieved token pk")
            found["token_pk"] = listed.pk

        def revoke_refresh_token() -> None:
            expect("token_pk" in found, "no token listed")
            answer = oauth2.oauth2_refresh_tokens_destroy(id=found["token_pk"])
            expect(answer is None, f"destroy returned a body: {answer!r}")
            refreshed = token_request(base, state.audit_provider, {
                "grant_type": "refresh_token",
                "refresh_token": found["refresh_token"],
            })
            expect_equal(refreshed.status_code, 400, "refresh with a revoked token")
            expect_equal(refreshed.json().get("error"), "invalid_grant", "error code")
            again = oauth2.oauth2_refresh_tokens_retrieve(id=found["token_pk"])
            expect(again.revoked, "the deleted token is not revoked")

        def list_consents() -> None:
            answer = core.core_user_consent_list(application=state.audit_application.pk)
            expect(isinstance(answer, PaginatedUserConsentList), f"not a list: {type(answer)}")
            expect_equal(answer.pagination.count, 1, "consents for the application")
            consent = answer.results[0]
            expect(isinstance(consent, UserConsent), f"not a UserConsent: {type(consent)}")
            expect_equal(consent.user.username, "akadmin", "consent user")
            expect_equal(consent.application.slug, slug, "consent application")
            expect(consent.expires is None, f"a permanent consent expires {consent.expires}")
            expect("openid" in (consent.permissions or ""), f"permissions {consent.permissions!r}")
            core.core_user_consent_destroy(id=consent.pk)
            left = core.core_user_consent_list(application=state.audit_application.pk)
            expect_equal(left.pagination.count, 0, "consents after delete")

        def list_events() -> None:
            answer = events.events_events_list(action="authorize_application", username="akadmin")
            expect(isinstance(answer, PaginatedEventList), f"not a list: {type(answer)}")
            expect(answer.pagination.count >= 1, "no authorize_application event")
            event = answer.results[0]
            expect(isinstance(event, Event), f"not an Event: {type(event)}")
            expect_equal(event.action, EventActions.AUTHORIZE_APPLICATION, "event action")
            expect_equal(event.user.get("username"), "akadmin", "event user")
            expect_equal(event.context["authorized_application"]["slug"], slug, "authorized app")
            fetched = events.events_events_retrieve(event_uuid=event.pk)
            expect_equal(fetched.pk, event.pk, "retrieved event pk")

        if report.check("a real authorization leaves a refresh token and a consent", authorization):
            if report.check("oauth2/refresh_tokens/ parses as PaginatedTokenModelList", list_refresh_tokens):
                report.check("deleting a refresh token revokes it", revoke_refresh_token)
            report.check("core/user_consent/ parses as PaginatedUserConsentList and deletes", list_consents)
            report.check("events/events/?action= parses as PaginatedEventList", list_events)


def executor_url(base: str) -> str:
    return f"{base}/api/v3/flows/executor/{AUTH_FLOW}/"


def post_challenge(session: requests.Session, base: str, body: dict) -> dict:
    response = session.post(executor_url(base), json=body, timeout=HTTP_TIMEOUT)
    expect_equal(response.status_code, 200, f"executor POST {body.get('component')}")
    return response.json()


def start_login(session: requests.Session, base: str, username: str) -> dict:
    """Walks a fresh flow up to the password stage; returns that challenge."""
    first = session.get(executor_url(base), timeout=HTTP_TIMEOUT)
    expect_equal(first.status_code, 200, "executor GET")
    challenge = first.json()
    expect_equal(challenge.get("component"), "ak-stage-identification", "first challenge")
    expect("username" in challenge.get("user_fields", []), "identification lacks username")
    challenge = post_challenge(
        session, base, {"component": "ak-stage-identification", "uid_field": username}
    )
    expect_equal(challenge.get("component"), "ak-stage-password", "challenge after identification")
    PasswordChallenge.from_dict(challenge)
    return challenge


def log_in(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    start_login(session, base, username)
    done = post_challenge(session, base, {"component": "ak-stage-password", "password": password})
    expect_equal(done.get("component"), "xak-flow-redirect", "challenge after password")
    redirect = RedirectChallenge.from_dict(done)
    expect_equal(redirect.to, "/if/user/", "redirect target")
    expect("gatehouse_session" in session.cookies, "no gatehouse_session cookie was set")
    return session


def failed_password(base: str, username: str) -> dict:
    session = requests.Session()
    start_login(session, base, username)
    wrong = "not-the-password-" + secrets.token_hex(4)
    challenge = post_challenge(session, base, {"component": "ak-stage-password", "password": wrong})
    PasswordChallenge.from_dict(challenge)
    me = session.get(f"{base}/api/v3/core/users/me/", timeout=HTTP_TIMEOUT)
    expect(me.status_code in (401, 403), f"me/ after a failed login answered {me.status_code}")
    return challenge


def password_errors(challenge: dict) -> list[str]:
    errors = challenge.get("response_errors") or {}
    return [error.get("string") for error in errors.get("password", [])]


def executor_checks(report: Report, base: str, admin_password: str, state: State) -> None:
    def admin_login() -> None:
        session = log_in(base, "akadmin", admin_password)
        me = session.get(f"{base}/api/v3/core/users/me/", timeout=HTTP_TIMEOUT)
        expect_equal(me.status_code, 200, "me/ with the session cookie")
        user = SessionUser.from_dict(me.json()).user
        expect_equal(user.username, "akadmin", "me/ username after login")
        expect(user.is_superuser, "akadmin is not superuser after login")

    def new_user_login() -> None:
        expect(state.user is not None, "no user was created")
        session = log_in(base, state.username, state.password)
        me = session.get(f"{base}/api/v3/core/users/me/", timeout=HTTP_TIMEOUT)
        expect_equal(me.status_code, 200, "me/ with the session cookie")
        expect_equal(SessionUser.from_dict(me.json()).user.username, state.username, "me/ username")
        listing = session.get(f"{base}/api/v3/core/users/", timeout=HTTP_TIMEOUT)
        expect(listing.status_code == 403, f"non-superuser session listed users: {listing.status_code}")

    def no_cookie() -> None:
        me = requests.get(f"{base}/api/v3/core/users/me/", timeout=HTTP_TIMEOUT)
        expect(me.status_code in (401, 403), f"me/ without credentials answered {me.status_code}")

    outcomes: dict[str, dict] = {}

    def wrong_password() -> None:
        challenge = failed_password(base, "akadmin")
        errors = password_errors(challenge)
        expect(len(errors) == 1 and errors[0], f"no password error in {challenge}")
        outcomes["wrong"] = challenge

    def unknown_user() -> None:
        expect("wrong" in outcomes, "needs the wrong-password outcome")
        challenge = failed_password(base, f"nobody-{secrets.token_hex(4)}")
        wrong = outcomes["wrong"]
        expect_equal(challenge.get("component"), wrong.get("component"), "component")
        expect_equal(password_errors(challenge), password_errors(wrong), "error text")
        # Only the name that was typed may differ.
        expect(challenge.pop("pending_user", None) is not None, "no pending_user")
        wrong = {key: value for key, value in wrong.items() if key != "pending_user"}
        expect_equal(challenge, wrong, "the whole challenge")

    report.check("executor: akadmin logs in, me/ works with the cookie", admin_login)
    report.check("executor: the created user logs in with the password set by API", new_user_login)
    report.check("me/ without credentials is refused", no_cookie)
    report.check("executor: wrong password gives response_errors", wrong_password)
    report.check("executor: unknown user looks like a wrong password", unknown_user)


def deletion_checks(report: Report, base: str, token: str, state: State) -> None:
    def delete_user() -> None:
        expect(state.user is not None, "no user was created")
        with client_for(base, token) as api_client:
            core = CoreApi(api_client)
            answer = core.core_users_destroy(id=state.user.pk)
            expect(answer is None, f"destroy returned a body: {answer!r}")
            try:
                core.core_users_retrieve(id=state.user.pk)
            except NotFoundException:
                pass
            else:
                raise CheckFailed("deleted user still retrievable")
            if state.group is not None:
                group = core.core_groups_retrieve(group_uuid=state.group.pk)
                expect_equal(group.users, [], "deleted user still a member")
                core.core_groups_destroy(group_uuid=state.group.pk)
        state.user = None

    def deleted_cannot_log_in() -> None:
        challenge = failed_password(base, state.username)
        expect(password_errors(challenge), "no error for a deleted user's login")

    if report.check("delete the user", delete_user):
        report.check("executor: a deleted user cannot log in", deleted_cannot_log_in)


def clean_up(base: str, token: str, state: State) -> None:
    """Best effort, so a failed run does not leave objects behind on a shared server."""
    with client_for(base, token) as api_client:
        core = CoreApi(api_client)
        providers = ProvidersApi(api_client)
        mappings = PropertymappingsApi(api_client)
        stages = StagesApi(api_client)
        for remove in (
            lambda: state.consent_stage
            and stages.stages_consent_partial_update(
                stage_uuid=state.consent_stage[0],
                patched_consent_stage_request=PatchedConsentStageRequest(mode=state.consent_stage[1]),
            ),
            lambda: state.audit_application
            and core.core_applications_destroy(slug=state.audit_application.slug),
            lambda: state.audit_provider and providers.providers_oauth2_destroy(id=state.audit_provider.pk),
            lambda: state.application and core.core_applications_destroy(slug=state.application.slug),
            lambda: state.provider and providers.providers_oauth2_destroy(id=state.provider.pk),
            lambda: state.scope_mapping
            and mappings.propertymappings_provider_scope_destroy(pm_uuid=state.scope_mapping.pk),
            lambda: state.token and core.core_tokens_destroy(identifier=state.token.identifier),
            lambda: state.group and core.core_groups_destroy(group_uuid=state.group.pk),
            lambda: state.user and core.core_users_destroy(id=state.user.pk),
        ):
            try:
                remove()
            except ApiException:
                pass


def main() -> int:
    base = os.environ.get("GATEHOUSE_URL", "").rstrip("/")
    token = os.environ.get("GATEHOUSE_TOKEN", "")
    admin_password = os.environ.get("GATEHOUSE_ADMIN_PASSWORD", "")
    if not (base and token and admin_password):
        print("set GATEHOUSE_URL, GATEHOUSE_TOKEN and GATEHOUSE_ADMIN_PASSWORD", file=sys.stderr)
        return 2
    print(f"authentik-client {authentik_client.__version__} against {base}", flush=True)
    state = State(suffix=secrets.token_hex(4), password="Interop-" + secrets.token_urlsafe(12))
    report = Report()
    try:
        api_checks(report, base, token, state)
        oauth_checks(report, base, token, state)
        audit_checks(report, base, token, admin_password, state)
        executor_checks(report, base, admin_password, state)
        deletion_checks(report, base, token, state)
    finally:
        clean_up(base, token, state)
    print(f"{len(report.passed)} passed, {len(report.failed)} failed", flush=True)
    return 0 if not report.failed and report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
