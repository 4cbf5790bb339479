//! OpenAPI v2 (`/openapi/v2`): the whole API in one Swagger 2.0 document, as JSON and as
//! gnostic's protobuf `openapi.v2.Document` converted from that JSON the way gnostic's
//! `ParseDocument` reads it (vendor extensions become `NamedAny` holding YAML text).

use serde_json::{json, Map, Value};

use super::{
    paths::{self, Definition, Location, Operation, Param, PathItem, Section},
    v2_proto as pb,
};

const DEFINITIONS: &str = "#/definitions/";

fn param(p: &Param) -> Value {
    if p.location == Location::Body {
        let mut v = json!({
            "in": "body",
            "name": p.name,
            "schema": {"$ref": format!("{DEFINITIONS}{}", p.schema.as_deref().unwrap_or_default())},
        });
        if p.required {
            v["required"] = json!(true);
        }
        return v;
    }
    let mut v = json!({
        "description": p.description,
        "in": p.location.as_str(),
        "name": p.name,
        "type": p.ty,
        "uniqueItems": true,
    });
    if p.required {
        v["required"] = json!(true);
    }
    v
}

fn operation(o: &Operation) -> Value {
    let mut responses = Map::new();
    for r in &o.responses {
        responses.insert(
            r.code.into(),
            json!({"description": r.description, "schema": {"$ref": format!("{DEFINITIONS}{}", r.schema)}}),
        );
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    let mut v = json!({
        "consumes": o.consumes,
        "description": o.description,
        "operationId": o.id,
        "produces": o.produces,
        "responses": responses,
        "schemes": ["https"],
        "tags": [o.tag],
    });
    if !o.params.is_empty() {
        v["parameters"] = o.params.iter().map(param).collect();
    }
    if let Some(action) = o.action {
        v["x-kubernetes-action"] = json!(action);
    }
    if let Some(gvk) = &o.gvk {
        v["x-kubernetes-group-version-kind"] = gvk.json();
    }
    v
}

fn path_item(p: &PathItem) -> Value {
    let mut v = Map::new();
    for o in &p.ops {
        v.insert(o.method.as_str().into(), operation(o));
    }
    if !p.params.is_empty() {
        v.insert(
            "parameters".into(),
            p.params.iter().map(param).collect::<Vec<_>>().into(),
        );
    }
    Value::Object(v)
}

/// The Swagger 2.0 document of every section.
pub fn document(
    sections: &[Section],
    catalog: &std::collections::BTreeMap<String, Definition>,
    version: &str,
) -> Value {
    let all = sections.iter().flat_map(|s| s.paths.iter());
    let paths: Map<String, Value> = all
        .clone()
        .map(|p| (p.path.clone(), path_item(p)))
        .collect();
    let definitions: Map<String, Value> = paths::referenced_schemas(all, catalog)
        .into_iter()
        .collect();
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "in": "header",
                "name": "authorization",
                "type": "apiKey",
            },
        },
        "security": [{"BearerToken": []}],
    })
}

// ---- JSON to gnostic protobuf ----

fn string(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn boolean(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or_default()
}

fn float(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or_default()
}

fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or_default()
}

/// A value as gnostic keeps it: YAML text.
fn any(v: &Value) -> pb::Any {
    pb::Any {
        value: None,
        yaml: serde_yaml::to_string(v).unwrap_or_default(),
    }
}

fn opt_any(v: &Value, key: &str) -> Option<pb::Any> {
    v.get(key).map(any)
}

fn anys(v: &Value, key: &str) -> Vec<pb::Any> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(any).collect())
        .unwrap_or_default()
}

/// `x-` keys, in document order.
fn extensions(v: &Value) -> Vec<pb::NamedAny> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, x)| pb::NamedAny {
            name: k.clone(),
            value: Some(any(x)),
        })
        .collect()
}

fn entries(v: Option<&Value>) -> impl Iterator<Item = (&String, &Value)> {
    v.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.starts_with("x-"))
}

pub fn schema(v: &Value) -> pb::Schema {
    let types = match v.get("type") {
        Some(Value::String(t)) => Some(pb::TypeItem {
            value: vec![t.clone()],
        }),
        Some(Value::Array(_)) => Some(pb::TypeItem {
            value: strings(v, "type"),
        }),
        _ => None,
    };
    let items = match v.get("items") {
        Some(Value::Array(a)) => Some(pb::ItemsItem {
            schema: a.iter().map(schema).collect(),
        }),
        Some(s @ Value::Object(_)) => Some(pb::ItemsItem {
            schema: vec![schema(s)],
        }),
        _ => None,
    };
    let additional = match v.get("additionalProperties") {
        Some(Value::Bool(b)) => Some(pb::additional_properties_item::Oneof::Boolean(*b)),
        Some(s @ Value::Object(_)) => Some(pb::additional_properties_item::Oneof::Schema(
            Box::new(schema(s)),
        )),
        _ => None,
    };
    pb::Schema {
        r#ref: string(v, "$ref"),
        format: string(v, "format"),
        title: string(v, "title"),
        description: string(v, "description"),
        default: opt_any(v, "default"),
        multiple_of: float(v, "multipleOf"),
        maximum: float(v, "maximum"),
        exclusive_maximum: boolean(v, "exclusiveMaximum"),
        minimum: float(v, "minimum"),
        exclusive_minimum: boolean(v, "exclusiveMinimum"),
        max_length: int(v, "maxLength"),
        min_length: int(v, "minLength"),
        pattern: string(v, "pattern"),
        max_items: int(v, "maxItems"),
        min_items: int(v, "minItems"),
        unique_items: boolean(v, "uniqueItems"),
        max_properties: int(v, "maxProperties"),
        min_properties: int(v, "minProperties"),
        required: strings(v, "required"),
        r#enum: anys(v, "enum"),
        additional_properties: additional
            .map(|o| Box::new(pb::AdditionalPropertiesItem { oneof: Some(o) })),
        r#type: types,
        items,
        all_of: v
            .get("allOf")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(schema).collect())
            .unwrap_or_default(),
        properties: v.get("properties").map(|p| pb::Properties {
            additional_properties: entries(Some(p))
                .map(|(k, s)| pb::NamedSchema {
                    name: k.clone(),
                    value: Some(schema(s)),
                })
                .collect(),
        }),
        discriminator: string(v, "discriminator"),
        read_only: boolean(v, "readOnly"),
        xml: None,
        external_docs: None,
        example: opt_any(v, "example"),
        vendor_extension: extensions(v),
    }
}

fn primitives_items(v: &Value) -> pb::PrimitivesItems {
    pb::PrimitivesItems {
        r#type: string(v, "type"),
        format: string(v, "format"),
        items: v.get("items").map(|i| Box::new(primitives_items(i))),
        collection_format: string(v, "collectionFormat"),
        default: opt_any(v, "default"),
        maximum: float(v, "maximum"),
        exclusive_maximum: boolean(v, "exclusiveMaximum"),
        minimum: float(v, "minimum"),
        exclusive_minimum: boolean(v, "exclusiveMinimum"),
        max_length: int(v, "maxLength"),
        min_length: int(v, "minLength"),
        pattern: string(v, "pattern"),
        max_items: int(v, "maxItems"),
        min_items: int(v, "minItems"),
        unique_items: boolean(v, "uniqueItems"),
        r#enum: anys(v, "enum"),
        multiple_of: float(v, "multipleOf"),
        vendor_extension: extensions(v),
    }
}

/// The fields every non-body parameter kind shares.
macro_rules! non_body {
    ($ty:ident, $v:expr $(, $field:ident: $value:expr)*) => {
        pb::$ty {
            $($field: $value,)*
            required: boolean($v, "required"),
            r#in: string($v, "in"),
            description: string($v, "description"),
            name: string($v, "name"),
            r#type: string($v, "type"),
            format: string($v, "format"),
            items: $v.get("items").map(primitives_items),
            collection_format: string($v, "collectionFormat"),
            default: opt_any($v, "default"),
            maximum: float($v, "maximum"),
            exclusive_maximum: boolean($v, "exclusiveMaximum"),
            minimum: float($v, "minimum"),
            exclusive_minimum: boolean($v, "exclusiveMinimum"),
            max_length: int($v, "maxLength"),
            min_length: int($v, "minLength"),
            pattern: string($v, "pattern"),
            max_items: int($v, "maxItems"),
            min_items: int($v, "minItems"),
            unique_items: boolean($v, "uniqueItems"),
            r#enum: anys($v, "enum"),
            multiple_of: float($v, "multipleOf"),
            vendor_extension: extensions($v),
        }
    };
}

fn parameters_item(v: &Value) -> pb::ParametersItem {
    use pb::non_body_parameter::Oneof as NonBody;
    if v.get("$ref").is_some() {
        return pb::ParametersItem {
            oneof: Some(pb::parameters_item::Oneof::JsonReference(
                pb::JsonReference {
                    r#ref: string(v, "$ref"),
                    description: string(v, "description"),
                },
            )),
        };
    }
    let parameter = if v.get("in").and_then(Value::as_str) == Some("body") {
        pb::parameter::Oneof::BodyParameter(pb::BodyParameter {
            description: string(v, "description"),
            name: string(v, "name"),
            r#in: string(v, "in"),
            required: boolean(v, "required"),
            schema: v.get("schema").map(schema),
            vendor_extension: extensions(v),
        })
    } else {
        let non_body = match v.get("in").and_then(Value::as_str).unwrap_or_default() {
            "path" => NonBody::PathParameterSubSchema(non_body!(PathParameterSubSchema, v)),
            "header" => NonBody::HeaderParameterSubSchema(non_body!(HeaderParameterSubSchema, v)),
            "formData" => NonBody::FormDataParameterSubSchema(non_body!(
                FormDataParameterSubSchema,
                v,
                allow_empty_value: boolean(v, "allowEmptyValue")
            )),
            _ => NonBody::QueryParameterSubSchema(non_body!(
                QueryParameterSubSchema,
                v,
                allow_empty_value: boolean(v, "allowEmptyValue")
            )),
        };
        pb::parameter::Oneof::NonBodyParameter(pb::NonBodyParameter {
            oneof: Some(non_body),
        })
    };
    pb::ParametersItem {
        oneof: Some(pb::parameters_item::Oneof::Parameter(pb::Parameter {
            oneof: Some(parameter),
        })),
    }
}

fn parameters(v: &Value) -> Vec<pb::ParametersItem> {
    v.get("parameters")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(parameters_item).collect())
        .unwrap_or_default()
}

fn response_value(v: &Value) -> pb::ResponseValue {
    let oneof = if v.get("$ref").is_some() {
        pb::response_value::Oneof::JsonReference(pb::JsonReference {
            r#ref: string(v, "$ref"),
            description: string(v, "description"),
        })
    } else {
        pb::response_value::Oneof::Response(pb::Response {
            description: string(v, "description"),
            schema: v.get("schema").map(|s| pb::SchemaItem {
                oneof: Some(pb::schema_item::Oneof::Schema(schema(s))),
            }),
            headers: None,
            examples: None,
            vendor_extension: extensions(v),
        })
    };
    pb::ResponseValue { oneof: Some(oneof) }
}

fn operation_pb(v: &Value) -> pb::Operation {
    pb::Operation {
        tags: strings(v, "tags"),
        summary: string(v, "summary"),
        description: string(v, "description"),
        external_docs: None,
        operation_id: string(v, "operationId"),
        produces: strings(v, "produces"),
        consumes: strings(v, "consumes"),
        parameters: parameters(v),
        responses: v.get("responses").map(|r| pb::Responses {
            response_code: entries(Some(r))
                .map(|(code, x)| pb::NamedResponseValue {
                    name: code.clone(),
                    value: Some(response_value(x)),
                })
                .collect(),
            vendor_extension: extensions(r),
        }),
        schemes: strings(v, "schemes"),
        deprecated: boolean(v, "deprecated"),
        security: Vec::new(),
        vendor_extension: extensions(v),
    }
}

fn path_item_pb(v: &Value) -> pb::PathItem {
    let op = |m: &str| v.get(m).map(operation_pb);
    pb::PathItem {
        r#ref: string(v, "$ref"),
        get: op("get"),
        put: op("put"),
        post: op("post"),
        delete: op("delete"),
        options: op("options"),
        head: op("head"),
        patch: op("patch"),
        parameters: parameters(v),
        vendor_extension: extensions(v),
    }
}

fn security_requirement(v: &Value) -> pb::SecurityRequirement {
    pb::SecurityRequirement {
        additional_properties: v
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, scopes)| pb::NamedStringArray {
                name: k.clone(),
                value: Some(pb::StringArray {
                    value: scopes
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                }),
            })
            .collect(),
    }
}

fn security_definition(v: &Value) -> pb::SecurityDefinitionsItem {
    use pb::security_definitions_item::Oneof;
    let oneof = match v.get("type").and_then(Value::as_str) {
        Some("basic") => Some(Oneof::BasicAuthenticationSecurity(
            pb::BasicAuthenticationSecurity {
                r#type: string(v, "type"),
                description: string(v, "description"),
                vendor_extension: extensions(v),
            },
        )),
        Some("apiKey") => Some(Oneof::ApiKeySecurity(pb::ApiKeySecurity {
            r#type: string(v, "type"),
            name: string(v, "name"),
            r#in: string(v, "in"),
            description: string(v, "description"),
            vendor_extension: extensions(v),
        })),
        _ => None,
    };
    pb::SecurityDefinitionsItem { oneof }
}

/// The document as gnostic would compile it from its JSON.
pub fn to_proto(v: &Value) -> pb::Document {
    pb::Document {
        swagger: string(v, "swagger"),
        info: v.get("info").map(|i| pb::Info {
            title: string(i, "title"),
            version: string(i, "version"),
            description: string(i, "description"),
            terms_of_service: string(i, "termsOfService"),
            contact: None,
            license: None,
            vendor_extension: extensions(i),
        }),
        host: string(v, "host"),
        base_path: string(v, "basePath"),
        schemes: strings(v, "schemes"),
        consumes: strings(v, "consumes"),
        produces: strings(v, "produces"),
        paths: v.get("paths").map(|p| pb::Paths {
            vendor_extension: extensions(p),
            path: entries(Some(p))
                .map(|(k, x)| pb::NamedPathItem {
                    name: k.clone(),
                    value: Some(path_item_pb(x)),
                })
                .collect(),
        }),
        definitions: v.get("definitions").map(|d| pb::Definitions {
            additional_properties: d
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, s)| pb::NamedSchema {
                    name: k.clone(),
                    value: Some(schema(s)),
                })
                .collect(),
        }),
        parameters: None,
        responses: None,
        security: v
            .get("security")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(security_requirement).collect())
            .unwrap_or_default(),
        security_definitions: v
            .get("securityDefinitions")
            .map(|d| pb::SecurityDefinitions {
                additional_properties: d
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, s)| pb::NamedSecurityDefinitionsItem {
                        name: k.clone(),
                        value: Some(security_definition(s)),
                    })
                    .collect(),
            }),
        tags: Vec::new(),
        external_docs: None,
        vendor_extension: extensions(v),
    }
}
