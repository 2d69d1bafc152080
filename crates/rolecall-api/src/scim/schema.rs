//! What Rolecall's SCIM service publishes about itself (RFC 7643 §5-7): the service
//! provider configuration, the resource types and the User and Group schemas. The schemas
//! are also what filters and PATCH paths are resolved against: attribute names are matched
//! without regard to case and turned into the names published here.

use std::sync::OnceLock;

use serde_json::{Value, json};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The most results one page of a list holds; also the default page size.
pub const MAX_COUNT: usize = 1000;
/// The most members a group document lists inline; larger groups are read with
/// `excludedAttributes=members` and their members paged through
/// `GET /Users?filter=groups.value eq "<group>"`.
pub const MAX_INLINE_MEMBERS: u64 = 10_000;

/// The two kinds of resource Rolecall serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    pub fn urn(self) -> &'static str {
        match self {
            Kind::User => USER,
            Kind::Group => GROUP,
        }
    }

    /// The attributes of the kind's schema.
    pub fn attributes(self) -> &'static [Value] {
        let schema = match self {
            Kind::User => &schemas()[0],
            Kind::Group => &schemas()[1],
        };
        schema["attributes"].as_array().map_or(&[], Vec::as_slice)
    }
}

/// How an attribute is described (RFC 7643 §7).
struct Attr {
    name: &'static str,
    kind: &'static str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &'static str,
    returned: &'static str,
    uniqueness: &'static str,
    canonical: &'static [&'static str],
    reference_types: &'static [&'static str],
    sub: Vec<Value>,
    description: &'static str,
}

impl Attr {
    fn new(name: &'static str, kind: &'static str, description: &'static str) -> Attr {
        Attr {
            name,
            kind,
            multi: false,
            required: false,
            case_exact: false,
            mutability: "readWrite",
            returned: "default",
            uniqueness: "none",
            canonical: &[],
            reference_types: &[],
            sub: Vec::new(),
            description,
        }
    }

    fn multi(mut self) -> Attr {
        self.multi = true;
        self
    }

    fn required(mut self) -> Attr {
        self.required = true;
        self
    }

    fn mutability(mut self, mutability: &'static str) -> Attr {
        self.mutability = mutability;
        self
    }

    fn canonical(mut self, values: &'static [&'static str]) -> Attr {
        self.canonical = values;
        self
    }

    fn references(mut self, types: &'static [&'static str]) -> Attr {
        self.reference_types = types;
        self
    }

    fn server_unique(mut self) -> Attr {
        self.uniqueness = "server";
        self
    }

    fn sub(mut self, sub: Vec<Attr>) -> Attr {
        self.sub = sub.into_iter().map(Attr::json).collect();
        self
    }

    fn json(self) -> Value {
        let mut out = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        });
        if !self.canonical.is_empty() {
            out["canonicalValues"] = json!(self.canonical);
        }
        if self.kind == "reference" {
            out["referenceTypes"] = json!(self.reference_types);
        }
        if self.kind == "complex" {
            out["subAttributes"] = json!(self.sub);
        }
        out
    }
}

fn string(name: &'static str, description: &'static str) -> Attr {
    Attr::new(name, "string", description)
}

/// The User and Group schemas, in that order.
pub fn schemas() -> &'static [Value; 2] {
    static SCHEMAS: OnceLock<[Value; 2]> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let user = vec![
            string("userName", "Unique identifier for the user, used to sign in; unique without regard to case.")
                .required()
                .server_unique(),
            Attr::new("name", "complex", "The components of the user's real name.").sub(vec![
                string("formatted", "The full name, formatted for display."),
                string("familyName", "The family name."),
                string("givenName", "The given name."),
                string("middleName", "The middle name."),
                string("honorificPrefix", "The honorific prefix (Ms., Dr.)."),
                string("honorificSuffix", "The honorific suffix (III, Jr.)."),
            ]),
            string("displayName", "The name shown for the user; Rolecall's user name."),
            string("nickName", "The casual name of the user."),
            string("title", "The user's title, such as Vice President."),
            Attr::new(
                "active",
                "boolean",
                "false suspends the user: every check denies them and no lookup finds them; their groups and grants \
                 are kept for when they are active again. A new user without it is active; a replacement without it \
                 keeps the user as they are; it cannot be removed.",
            )
            .required(),
            Attr::new(
                "emails",
                "complex",
                "Email addresses. Rolecall needs one: the primary one (or the first, or a userName that is an \
                 address) is the user's Rolecall email, unique in the workspace.",
            )
            .multi()
            .required()
            .sub(vec![
                string("value", "The email address.").required(),
                string("display", "A human-readable name for the address."),
                string("type", "work, home or other.").canonical(&["work", "home", "other"]),
                Attr::new("primary", "boolean", "Whether this is the user's primary address."),
            ]),
            Attr::new(
                "groups",
                "complex",
                "The groups the user is in, directly or through nested groups (built-in groups left out).",
            )
            .multi()
            .mutability("readOnly")
            .sub(vec![
                string("value", "The group's id.").mutability("readOnly"),
                Attr::new("$ref", "reference", "The group's URI.").references(&["Group"]).mutability("readOnly"),
                string("display", "The group's name.").mutability("readOnly"),
                string("type", "direct or indirect.").canonical(&["direct", "indirect"]).mutability("readOnly"),
            ]),
        ];
        let group = vec![
            string("displayName", "The group's name, unique in the workspace without regard to case.")
                .required()
                .server_unique(),
            Attr::new(
                "members",
                "complex",
                "The group's direct members: users and nested groups. Groups of more than 10,000 members are read \
                 with excludedAttributes=members and their members paged with GET /Users?filter=groups.value eq \
                 \"<group id>\".",
            )
            .multi()
            .sub(vec![
                string("value", "The member's id.").mutability("immutable"),
                Attr::new("$ref", "reference", "The member's URI.")
                    .references(&["User", "Group"])
                    .mutability("immutable"),
                string("type", "User or Group.").canonical(&["User", "Group"]).mutability("immutable"),
            ]),
        ];
        let schema = |id: &str, name: &str, description: &str, attributes: Vec<Attr>| {
            json!({
                "schemas": [SCHEMA],
                "id": id,
                "name": name,
                "description": description,
                "attributes": attributes.into_iter().map(Attr::json).collect::<Vec<_>>(),
                "meta": {"resourceType": "Schema", "location": format!("/Schemas/{id}")},
            })
        };
        [
            schema(USER, "User", "A user of the workspace", user),
            schema(GROUP, "Group", "A group of the workspace: an ordinary Rolecall group", group),
        ]
    })
}

/// The resource types (RFC 7643 §6).
pub fn resource_types() -> [Value; 2] {
    [Kind::User, Kind::Group].map(|kind| {
        json!({
            "schemas": [RESOURCE_TYPE],
            "id": kind.name(),
            "name": kind.name(),
            "endpoint": format!("/{}", kind.endpoint()),
            "description": format!("Rolecall {}s", kind.name().to_lowercase()),
            "schema": kind.urn(),
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("/ResourceTypes/{}", kind.name())},
        })
    })
}

/// The service provider configuration (RFC 7643 §5).
pub fn service_provider_config() -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": "https://github.com/rolecall/rolecall/blob/main/docs/integrations.md",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Workspace API key",
            "description": "A Rolecall API key of the workspace (or the root key) as `Authorization: Bearer <key>`",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": "/ServiceProviderConfig"},
    })
}

/// The definition of attribute `name` (any case) among `attributes`.
pub fn find<'a>(attributes: &'a [Value], name: &str) -> Option<&'a Value> {
    attributes.iter().find(|a| a["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
}

/// The sub-attributes of a complex attribute's definition.
pub fn sub_attributes(attribute: &Value) -> &[Value] {
    attribute["subAttributes"].as_array().map_or(&[], Vec::as_slice)
}
