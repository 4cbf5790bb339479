//! Field management over a small Deployment schema shaped as upstream's OpenAPI (the API
//! server passes the served definitions).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{
    managers::{conflicts_message, zero_value, MAX_UPDATE_MANAGERS},
    typed::{compare, merge, to_field_set},
    *,
};

fn definitions() -> BTreeMap<String, Value> {
    let r = |n: &str| json!({"$ref": format!("#/definitions/{n}")});
    let s = json!({"type": "string"});
    let i = json!({"type": "integer"});
    let mut d = BTreeMap::new();
    d.insert(
        "Deployment".into(),
        json!({"properties": {
            "apiVersion": s, "kind": s, "metadata": r("ObjectMeta"), "spec": r("DeploymentSpec"),
            "status": {"properties": {"replicas": i}},
        }}),
    );
    d.insert("ObjectMeta".into(), json!({"properties": {
        "name": s, "namespace": s, "uid": s, "resourceVersion": s, "generation": i,
        "creationTimestamp": s,
        "labels": {"type": "object", "additionalProperties": s},
        "finalizers": {"type": "array", "items": s, "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
        "managedFields": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "atomic"},
    }}));
    d.insert(
        "DeploymentSpec".into(),
        json!({"properties": {
            "replicas": i, "selector": r("LabelSelector"), "template": r("PodTemplateSpec"),
        }}),
    );
    d.insert(
        "LabelSelector".into(),
        json!({"x-kubernetes-map-type": "atomic", "properties": {
            "matchLabels": {"type": "object", "additionalProperties": s},
        }}),
    );
    d.insert(
        "PodTemplateSpec".into(),
        json!({"properties": {
            "metadata": r("ObjectMeta"), "spec": r("PodSpec"),
        }}),
    );
    d.insert("PodSpec".into(), json!({"required": ["containers"], "properties": {
        "containers": {"type": "array", "items": r("Container"), "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        "tolerations": {"type": "array", "items": {"properties": {"key": s}}, "x-kubernetes-list-type": "atomic"},
    }}));
    d.insert("Container".into(), json!({"properties": {
        "name": s, "image": s,
        "command": {"type": "array", "items": s, "x-kubernetes-list-type": "atomic"},
        "env": {"type": "array", "items": r("EnvVar"), "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        "ports": {"type": "array", "items": r("ContainerPort"), "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["containerPort", "protocol"]},
        "volumeMounts": {"type": "array", "items": {"properties": {"mountPath": s, "name": s}}, "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "mountPath"},
    }}));
    d.insert(
        "EnvVar".into(),
        json!({"properties": {"name": s, "value": s}}),
    );
    d.insert(
        "ContainerPort".into(),
        json!({"properties": {
            "containerPort": i, "protocol": {"type": "string", "default": "TCP"},
        }}),
    );
    d
}

/// Runs `f` with the Deployment schema.
fn with_schema<T>(f: impl FnOnce(Schema<'_>) -> T) -> T {
    let defs = definitions();
    let resolve = |n: &str| defs.get(n);
    let schema = Schema::new(&defs["Deployment"], &resolve);
    f(schema)
}

/// Runs `f` with a context over the Deployment schema, nothing reset.
fn with_context<T>(f: impl FnOnce(&Context<'_, '_>) -> T) -> T {
    with_schema(|schema| {
        let reset = Set::new();
        f(&Context {
            schema,
            reset: &reset,
            now: "t",
        })
    })
}

fn deploy(containers: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "ns"},
        "spec": {"template": {"spec": {"containers": containers}}}})
}

fn applier(name: &str) -> Writer {
    Writer {
        manager: name.into(),
        operation: Operation::Apply,
        api_version: "apps/v1".into(),
        subresource: String::new(),
    }
}

fn updater(name: &str) -> Writer {
    Writer {
        operation: Operation::Update,
        ..applier(name)
    }
}

struct World {
    obj: Value,
    managed: Managed,
}

impl World {
    fn new() -> Self {
        World {
            obj: deploy(json!([])),
            managed: Managed::default(),
        }
    }

    fn apply(
        &mut self,
        schema: Schema<'_>,
        who: &str,
        config: Value,
        force: bool,
    ) -> Result<(), Error> {
        let reset = Set::new();
        let cx = Context {
            schema,
            reset: &reset,
            now: "2025-01-01T00:00:00Z",
        };
        let mut m = self.managed.clone();
        self.obj = apply(&cx, &self.obj, &config, &mut m, &applier(who), force)?;
        self.managed = m;
        Ok(())
    }

    fn update(&mut self, schema: Schema<'_>, who: &str, new: Value) -> bool {
        let reset = Set::new();
        let cx = Context {
            schema,
            reset: &reset,
            now: "2025-01-01T00:00:01Z",
        };
        let changed = update(&cx, &self.obj, &new, &mut self.managed, &updater(who)).unwrap();
        self.obj = new;
        changed
    }

    fn fields(&self, who: &Writer) -> Value {
        to_fields_v1(&self.managed.get(who).expect("an entry").fields)
    }

    fn names(&self) -> Vec<String> {
        self.obj["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    }
}

#[test]
fn fields_v1_names_keyed_items_set_values_and_members_as_upstream() {
    with_schema(|schema| {
        let mut obj = deploy(json!([{"name": "c", "image": "i", "command": ["sleep"],
            "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}]}]));
        obj["metadata"]["labels"] = json!({"app": "web"});
        obj["metadata"]["finalizers"] = json!(["x"]);
        obj["spec"]["selector"] = json!({"matchLabels": {"app": "web"}});
        let set = to_field_set(schema, &obj).unwrap();
        let v1 = to_fields_v1(&set);
        let c = &v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"];
        assert_eq!(c["."], json!({}), "{v1}");
        assert_eq!(c["f:image"], json!({}));
        assert_eq!(c["f:command"], json!({}), "atomic lists are leaves");
        // The missing protocol key takes its schema default.
        assert_eq!(
            c["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"]["f:containerPort"],
            json!({})
        );
        assert_eq!(c["f:env"]["k:{\"name\":\"A\"}"]["f:value"], json!({}));
        assert_eq!(v1["f:metadata"]["f:finalizers"]["v:\"x\""], json!({}));
        assert_eq!(v1["f:metadata"]["f:labels"], json!({"f:app": {}}));
        assert_eq!(v1["f:spec"]["f:selector"], json!({}), "atomic struct");
        assert!(v1["f:spec"].get(".").is_none());
        assert_eq!(from_fields_v1(&v1).unwrap(), set);
        // Patch-merge-key lists without a list type are keyed by it.
        let obj =
            deploy(json!([{"name": "c", "volumeMounts": [{"mountPath": "/d", "name": "v"}]}]));
        let v1 = to_fields_v1(&to_field_set(schema, &obj).unwrap());
        let c = &v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"];
        assert!(
            c["f:volumeMounts"]
                .get("k:{\"mountPath\":\"/d\"}")
                .is_some(),
            "{v1}"
        );
    });
}

#[test]
fn two_appliers_own_different_containers_and_both_survive() {
    with_schema(|schema| {
        let mut w = World::new();
        w.apply(
            schema,
            "a",
            deploy(json!([{"name": "c1", "image": "one"}])),
            false,
        )
        .unwrap();
        w.apply(
            schema,
            "b",
            deploy(json!([{"name": "c2", "image": "two"}])),
            false,
        )
        .unwrap();
        assert_eq!(w.names(), ["c1", "c2"]);
        // a re-applies without c2 (and changes its own image): c2 is b's, it stays.
        w.apply(
            schema,
            "a",
            deploy(json!([{"name": "c1", "image": "uno"}])),
            false,
        )
        .unwrap();
        assert_eq!(w.names(), ["c1", "c2"]);
        let b = w.fields(&applier("b"));
        assert!(
            b["f:spec"]["f:template"]["f:spec"]["f:containers"]
                .get("k:{\"name\":\"c2\"}")
                .is_some(),
            "{b}"
        );
        let a = w.fields(&applier("a"));
        assert!(
            a["f:spec"]["f:template"]["f:spec"]["f:containers"]
                .get("k:{\"name\":\"c2\"}")
                .is_none(),
            "{a}"
        );
        // b stops applying c2: nobody owns it, it goes.
        w.apply(schema, "b", deploy(json!([])), false).unwrap();
        assert_eq!(w.names(), ["c1"]);
        assert!(
            w.managed.get(&applier("b")).is_none()
                || !w.fields(&applier("b")).to_string().contains("c2")
        );
    });
}

#[test]
fn two_appliers_own_different_env_entries_of_one_container() {
    with_schema(|schema| {
        let mut w = World::new();
        w.apply(
            schema,
            "a",
            deploy(json!([{"name": "c", "image": "i", "env": [{"name": "A", "value": "1"}]}])),
            false,
        )
        .unwrap();
        w.apply(
            schema,
            "b",
            deploy(json!([{"name": "c", "env": [{"name": "B", "value": "2"}]}])),
            false,
        )
        .unwrap();
        let env = &w.obj["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(
            env,
            &json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
        );
        // a drops A: removed; B (b's) stays; the container (shared) stays with a's image.
        w.apply(
            schema,
            "a",
            deploy(json!([{"name": "c", "image": "i"}])),
            false,
        )
        .unwrap();
        let c = &w.obj["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["env"], json!([{"name": "B", "value": "2"}]));
        assert_eq!(c["image"], "i");
        // a drops the container: b still owns it (it applied it too), so it stays.
        w.apply(schema, "a", deploy(json!([])), false).unwrap();
        assert_eq!(w.names(), ["c"]);
        assert!(w.obj["spec"]["template"]["spec"]["containers"][0]
            .get("image")
            .is_none());
    });
}

#[test]
fn a_dropped_keyed_item_goes_unless_someone_else_owns_it() {
    with_schema(|schema| {
        let mut w = World::new();
        w.apply(
            schema,
            "a",
            deploy(json!([{"name": "c1"}, {"name": "c2"}, {"name": "c3"}])),
            false,
        )
        .unwrap();
        w.apply(schema, "b", deploy(json!([{"name": "c3"}])), false)
            .unwrap();
        w.apply(schema, "a", deploy(json!([{"name": "c1"}])), false)
            .unwrap();
        assert_eq!(w.names(), ["c1", "c3"]);
    });
}

#[test]
fn set_lists_are_owned_per_value() {
    with_schema(|schema| {
        let mut w = World::new();
        let with = |f: Value| {
            let mut d = deploy(json!([]));
            d["metadata"]["finalizers"] = f;
            d
        };
        w.apply(schema, "a", with(json!(["x"])), false).unwrap();
        w.apply(schema, "b", with(json!(["y"])), false).unwrap();
        assert_eq!(w.obj["metadata"]["finalizers"], json!(["x", "y"]));
        assert_eq!(
            w.fields(&applier("a"))["f:metadata"]["f:finalizers"],
            json!({"v:\"x\"": {}})
        );
        w.apply(schema, "a", with(json!([])), false).unwrap();
        assert_eq!(w.obj["metadata"]["finalizers"], json!(["y"]));
    });
}

#[test]
fn conflicts_name_each_field_and_manager_and_force_takes_ownership() {
    with_schema(|schema| {
        let mut w = World::new();
        let mut cfg = deploy(json!([{"name": "c", "image": "one"}]));
        cfg["spec"]["replicas"] = json!(1);
        w.apply(schema, "a", cfg.clone(), false).unwrap();
        // Same values: shared, no conflict.
        w.apply(schema, "b", cfg.clone(), false).unwrap();
        let mut changed = deploy(json!([{"name": "c", "image": "two"}]));
        changed["spec"]["replicas"] = json!(2);
        let err = w.apply(schema, "c", changed.clone(), false).unwrap_err();
        let Error::Conflicts(cs) = &err else {
            panic!("{err:?}")
        };
        let got: Vec<(String, String)> = cs.iter().map(|c| (c.message(), c.field())).collect();
        assert_eq!(
            got,
            [
                (
                    "conflict with \"a\"".to_string(),
                    ".spec.replicas".to_string()
                ),
                (
                    "conflict with \"a\"".into(),
                    ".spec.template.spec.containers[name=\"c\"].image".into()
                ),
                ("conflict with \"b\"".into(), ".spec.replicas".into()),
                (
                    "conflict with \"b\"".into(),
                    ".spec.template.spec.containers[name=\"c\"].image".into()
                ),
            ]
        );
        assert_eq!(err.to_string(), "Apply failed with 4 conflicts: conflicts with \"a\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"c\"].image\nconflicts with \"b\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"c\"].image");
        assert_eq!(
            w.obj["spec"]["template"]["spec"]["containers"][0]["image"],
            "one"
        );
        w.apply(schema, "c", changed, true).unwrap();
        assert_eq!(
            w.obj["spec"]["template"]["spec"]["containers"][0]["image"],
            "two"
        );
        let a = w.fields(&applier("a")).to_string();
        assert!(!a.contains("f:image") && !a.contains("f:replicas"), "{a}");
        assert!(w.fields(&applier("c")).to_string().contains("f:image"));
        let one = conflicts_message(&cs[..1]);
        assert_eq!(
            one,
            "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
        );
    });
}

#[test]
fn update_takes_ownership_without_conflict_and_apply_then_conflicts_with_it() {
    with_schema(|schema| {
        let mut w = World::new();
        w.apply(
            schema,
            "a",
            deploy(json!([{"name": "c", "image": "one"}])),
            false,
        )
        .unwrap();
        let mut edited = w.obj.clone();
        edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("two");
        edited["metadata"]["labels"] = json!({"x": "1"});
        assert!(w.update(schema, "kubectl-edit", edited.clone()));
        let e = w.managed.get(&updater("kubectl-edit")).unwrap();
        assert_eq!(e.time.as_deref(), Some("2025-01-01T00:00:01Z"));
        let v1 = to_fields_v1(&e.fields);
        assert_eq!(v1["f:metadata"]["f:labels"], json!({".": {}, "f:x": {}}));
        assert_eq!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"],
            json!({"f:image": {}})
        );
        assert!(!w.fields(&applier("a")).to_string().contains("f:image"));
        // A write that changes nothing leaves managedFields alone.
        let before = w.managed.clone();
        assert!(!w.update(schema, "someone", edited));
        assert_eq!(w.managed, before);
        // a applies its image again: the editor owns it now.
        let err = w
            .apply(
                schema,
                "a",
                deploy(json!([{"name": "c", "image": "one"}])),
                false,
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.template.spec.containers[name=\"c\"].image");
        // Removing a field takes it out of every set.
        let mut unlabeled = w.obj.clone();
        unlabeled["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        assert!(w.update(schema, "kubectl-label", unlabeled));
        assert!(
            !to_fields_v1(&w.managed.get(&updater("kubectl-edit")).unwrap().fields)
                .to_string()
                .contains("f:x")
        );
        assert!(
            w.managed.get(&updater("kubectl-label")).is_none(),
            "removing owns nothing"
        );
    });
}

#[test]
fn a_create_owns_fields_of_its_zero_value_structs_but_not_them() {
    with_context(|cx| {
        let mut obj = deploy(json!([{"name": "c", "image": "i"}]));
        obj["metadata"]["labels"] = json!({"app": "web"});
        obj["metadata"]["uid"] = json!("u");
        let mut m = Managed::default();
        assert!(update(
            cx,
            &zero_value(cx, &obj),
            &obj,
            &mut m,
            &updater("kubectl-create")
        )
        .unwrap());
        let v1 = to_fields_v1(&m.entries[0].fields);
        assert_eq!(
            v1,
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}}}},
            })
        );
    });
}

#[test]
fn status_is_reset_for_the_main_resource() {
    with_schema(|schema| {
        let reset: Set = [vec![PathElement::field("status")]].into_iter().collect();
        let cx = Context {
            schema,
            reset: &reset,
            now: "t",
        };
        let old = deploy(json!([]));
        let mut new = old.clone();
        new["status"] = json!({"replicas": 3});
        let mut m = Managed::default();
        assert!(!update(&cx, &old, &new, &mut m, &updater("x")).unwrap());
        assert!(m.entries.is_empty());
    });
}

#[test]
fn managed_fields_decode_validates_and_encode_sorts_as_upstream() {
    let ok = json!([
        {"manager": "z", "operation": "Update", "apiVersion": "v1", "time": "2025-01-02T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}},
        {"manager": "y", "operation": "Update", "apiVersion": "v1", "time": "2025-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:b": {}}}, "subresource": "status"},
        {"manager": "x", "operation": "Apply", "apiVersion": "v1", "time": "2025-01-03T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:c": {}}}},
    ]);
    let m = Managed::decode(Some(&ok)).unwrap();
    let names: Vec<Value> = m
        .encode()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].clone())
        .collect();
    assert_eq!(names, [json!("x"), json!("y"), json!("z")]);
    assert_eq!(m.encode().as_array().unwrap()[1]["subresource"], "status");
    for bad in [
        json!([{"manager": "a", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}]),
        json!([{"manager": "a", "operation": "Update", "fieldsType": "FieldsV1"}]),
        json!([{"manager": "a", "operation": "Update", "apiVersion": "v1"}]),
        json!([{"manager": "a", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"k:notjson": {}}}]),
        json!("x"),
    ] {
        assert!(
            matches!(
                Managed::decode(Some(&bad)),
                Err(Error::InvalidManagedFields(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn update_managers_are_capped_into_ancient_changes() {
    with_schema(|schema| {
        let reset = Set::new();
        let mut obj = deploy(json!([]));
        let mut m = Managed::default();
        for i in 0..=MAX_UPDATE_MANAGERS {
            let now = format!("2025-01-01T00:00:{i:02}Z");
            let cx = Context {
                schema,
                reset: &reset,
                now: &now,
            };
            let mut new = obj.clone();
            new["metadata"]["labels"][format!("l{i}")] = json!("v");
            update(&cx, &obj, &new, &mut m, &updater(&format!("m{i:02}"))).unwrap();
            obj = new;
        }
        assert_eq!(m.entries.len(), MAX_UPDATE_MANAGERS);
        let ancient = m
            .entries
            .iter()
            .find(|e| e.manager == "ancient-changes")
            .expect("a bucket");
        let v1 = to_fields_v1(&ancient.fields).to_string();
        assert!(v1.contains("f:l0") && v1.contains("f:l1"), "{v1}");
    });
}

#[test]
fn merge_keeps_live_items_in_place_and_compare_finds_item_changes() {
    with_schema(|schema| {
        let live = deploy(json!([{"name": "a"}, {"name": "b", "image": "x"}, {"name": "c"}]));
        let cfg = deploy(json!([{"name": "d"}, {"name": "b", "image": "y"}]));
        let merged = merge(schema, &live, &cfg).unwrap();
        assert_eq!(
            merged["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a"}, {"name": "d"}, {"name": "b", "image": "y"}, {"name": "c"}])
        );
        let cmp = compare(schema, &live, &merged).unwrap();
        let added: Vec<String> = cmp.added.paths().iter().map(|p| path::display(p)).collect();
        assert_eq!(
            added,
            [
                ".spec.template.spec.containers[name=\"d\"]",
                ".spec.template.spec.containers[name=\"d\"].name"
            ]
        );
        let modified: Vec<String> = cmp
            .modified
            .paths()
            .iter()
            .map(|p| path::display(p))
            .collect();
        assert_eq!(
            modified,
            [".spec.template.spec.containers[name=\"b\"].image"]
        );
        // A duplicate key is an error, not a silent pick.
        let dup = deploy(json!([{"name": "a"}, {"name": "a"}]));
        assert!(matches!(to_field_set(schema, &dup), Err(Error::Schema(_))));
    });
}

#[test]
fn compare_skips_what_an_update_leaves_alone_errors_included() {
    with_schema(|schema| {
        // Duplicate list keys in a part the update does not touch: the change elsewhere is
        // still found (upstream tolerates them there too) ...
        let dup = deploy(json!([{"name": "a"}, {"name": "a", "image": "x"}]));
        let mut relabelled = dup.clone();
        relabelled["metadata"]["labels"] = json!({"tier": "web"});
        let cmp = compare(schema, &dup, &relabelled).unwrap();
        let added: Vec<String> = cmp.added.paths().iter().map(|p| path::display(p)).collect();
        assert_eq!(added, [".metadata.labels", ".metadata.labels.tier"]);
        assert!(cmp.modified.is_empty() && cmp.removed.is_empty());
        // ... and nothing changes when nothing does.
        assert!(compare(schema, &dup, &dup.clone()).unwrap().is_empty());
        // Where the update does change the list, the duplicate is still an error.
        let mut changed = dup.clone();
        changed["spec"]["template"]["spec"]["containers"][1]["image"] = json!("y");
        assert!(matches!(
            compare(schema, &dup, &changed),
            Err(Error::Schema(_))
        ));
    });
}

#[test]
fn a_failed_or_empty_update_leaves_the_managers_as_they_were() {
    with_context(|cx| {
        let old = deploy(json!([{"name": "a", "image": "x"}]));
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("y");
        let mut m = Managed::default();
        assert!(update(cx, &old, &new, &mut m, &updater("first")).unwrap());
        let before = m.encode();
        // Nothing changed: false, untouched.
        assert!(!update(cx, &new, &new.clone(), &mut m, &updater("second")).unwrap());
        assert_eq!(m.encode(), before);
        // A change that fails to compare (a duplicate key where the list changes): an error,
        // and nobody's fields were taken.
        let mut dup = new.clone();
        dup["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "a", "image": "z"}, {"name": "a"}]);
        assert!(update(cx, &new, &dup, &mut m, &updater("second")).is_err());
        assert_eq!(m.encode(), before);
    });
}
