//! include/schema/*.json are the JSON Schemas of the C API's JSON inputs, generated from the
//! serde types that parse them (crm_ffi::schema) and checked in. This test regenerates them
//! in memory and fails on any difference; to accept a change of an input type:
//!     UPDATE_SCHEMAS=1 cargo test -p crm-ffi --test schemas
//!
//! It also checks that the schemas say what the parsers do: every JSON literal that the C
//! tests, the ERP example and the README pass to a C function is valid against that
//! function's schema (or invalid, where the C test expects CRM_ERR_INVALID_JSON), a few
//! wrong inputs are refused by both the schema and the deserialiser, and the header names
//! each function's schema file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema_dir() -> PathBuf {
    root().join("include/schema")
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).expect("a schema serialises") + "\n"
}

#[test]
fn schemas_are_up_to_date() {
    let dir = schema_dir();
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    if update {
        std::fs::create_dir_all(&dir).expect("create include/schema");
    }
    let mut stale = Vec::new();
    let mut expected = BTreeSet::new();
    for (file, _, schema) in crm::schema::input_schemas() {
        assert!(expected.insert(file.to_string()), "{file} listed twice");
        let path = dir.join(file);
        let generated = pretty(&schema);
        if update {
            std::fs::write(&path, &generated).expect("write a schema");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
            stale.push(file);
        }
    }
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    let extra: Vec<_> = present.difference(&expected).collect();
    if update {
        for f in extra {
            std::fs::remove_file(dir.join(f)).expect("remove a schema no input has");
        }
        return;
    }
    assert!(
        stale.is_empty() && extra.is_empty(),
        "include/schema is out of date with the input types (differ: {stale:?}; no longer generated: {extra:?}).\n\
         Regenerate it with:\n    UPDATE_SCHEMAS=1 cargo test -p crm-ffi --test schemas\n"
    );
}

/// Each function of the header with its doc comment and its parameters' names.
fn header_functions() -> BTreeMap<String, (String, Vec<String>)> {
    let header = std::fs::read_to_string(root().join("include/crm.h")).expect("include/crm.h");
    let mut out = BTreeMap::new();
    let mut doc = String::new();
    let mut lines = header.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("/**") {
            doc.clear();
            continue;
        }
        if let Some(rest) = t.strip_prefix('*') {
            if !t.starts_with("*/") {
                doc.push_str(rest.trim());
                doc.push('\n');
            }
            continue;
        }
        let Some(open) = line.find('(') else { continue };
        let Some(name) = line[..open].split(|c: char| !(c.is_alphanumeric() || c == '_')).rfind(|s| !s.is_empty())
        else {
            continue;
        };
        if !name.starts_with("crm_") || line.trim_start().starts_with('#') {
            continue;
        }
        let mut decl = line[open + 1..].to_string();
        while !decl.contains(')') {
            decl.push_str(lines.next().unwrap_or(")"));
        }
        let params = decl[..decl.find(')').unwrap()]
            .split(',')
            .filter_map(|p| p.split(|c: char| !(c.is_alphanumeric() || c == '_')).rfind(|s| !s.is_empty()))
            .map(str::to_string)
            .collect();
        out.insert(name.to_string(), (std::mem::take(&mut doc), params));
    }
    out
}

/// The JSON inputs of a function: parameters named `*_json` that are inputs, and `program`.
fn json_params(params: &[String], decl_is_input: impl Fn(&str) -> bool) -> Vec<String> {
    params.iter().filter(|p| (p.ends_with("_json") && decl_is_input(p)) || p.as_str() == "program").cloned().collect()
}

/// Which schema file each (function, parameter) takes. An entry's function names its only
/// JSON parameter, or `function:parameter` where it has several.
fn schema_of() -> BTreeMap<(String, String), String> {
    let header = header_functions();
    let mut map = BTreeMap::new();
    for (file, functions, _) in crm::schema::input_schemas() {
        for f in functions {
            let (name, param) = match f.split_once(':') {
                Some((n, p)) => (n.to_string(), p.to_string()),
                None => {
                    let (_, params) = header.get(*f).unwrap_or_else(|| panic!("{f} is not in include/crm.h"));
                    let inputs = json_params(params, |p| !p.starts_with("out_"));
                    assert_eq!(inputs.len(), 1, "{f} takes several JSON inputs {inputs:?}: name the parameter");
                    (f.to_string(), inputs[0].clone())
                }
            };
            assert!(map.insert((name, param), file.to_string()).is_none(), "{f} listed twice");
        }
    }
    map
}

#[test]
fn every_json_input_has_a_schema_named_in_its_doc_comment() {
    let map = schema_of();
    let mut missing = Vec::new();
    for (name, (doc, params)) in header_functions() {
        for p in json_params(&params, |p| !p.starts_with("out_")) {
            match map.get(&(name.clone(), p.clone())) {
                None => missing.push(format!("{name}({p}): no schema in crm::schema::input_schemas")),
                Some(file) if !doc.contains(&format!("include/schema/{file}")) => {
                    missing.push(format!("{name}: its doc comment does not name include/schema/{file}"))
                }
                Some(_) => {}
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Compiled validators by schema file.
fn validators() -> BTreeMap<String, jsonschema::Validator> {
    crm::schema::input_schemas()
        .into_iter()
        .map(|(file, _, schema)| {
            // Formats (date-time, date, ...) are asserted, as the deserialisers check them.
            let v = jsonschema::options()
                .should_validate_formats(true)
                .build(&serde_json::to_value(&schema).unwrap())
                .unwrap_or_else(|e| panic!("{file} is not a valid JSON Schema: {e}"));
            (file.to_string(), v)
        })
        .collect()
}

/// A call found in C source: the function, its arguments as text, and the status a
/// `CHECK_ERR` around it expects (None: success).
struct Call {
    function: String,
    args: Vec<String>,
    expected_error: Option<String>,
    at: String,
}

/// Splits `src[start..]` (just after an opening parenthesis) into top-level arguments, up to
/// the matching `)`.
fn split_args(src: &str, start: usize) -> Vec<String> {
    let b = src.as_bytes();
    let (mut depth, mut i, mut arg_start) = (0i32, start, start);
    let mut args = Vec::new();
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth > 0 => depth -= 1,
            b')' => {
                args.push(src[arg_start..i].trim().to_string());
                return args;
            }
            b',' if depth == 0 => {
                args.push(src[arg_start..i].trim().to_string());
                arg_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    args
}

fn calls(src: &str, origin: &str) -> Vec<Call> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = src[from..].find("crm_").map(|p| p + from) {
        from = pos + 4;
        let before = src[..pos].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name_end = pos + src[pos..].find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(0);
        if !src[name_end..].starts_with('(') {
            continue;
        }
        let args = split_args(src, name_end + 1);
        // `CHECK_ERR(call, CODE, ...)`: the call is the macro's first argument.
        let prefix = src[..pos].trim_end();
        let expected_error = prefix.strip_suffix("CHECK_ERR(").map(|_| {
            let macro_args = split_args(src, prefix.len());
            macro_args.get(1).cloned().unwrap_or_default()
        });
        let line = src[..pos].lines().count();
        out.push(Call {
            function: src[pos..name_end].to_string(),
            args,
            expected_error,
            at: format!("{origin}:{line}"),
        });
    }
    out
}

/// The value of a C string argument: adjacent literals, or a `static const char *NAME = ...;`
/// of the same file. None for anything else (a variable, a format string's buffer).
fn c_string(arg: &str, src: &str) -> Option<String> {
    let arg = arg.trim();
    if arg.starts_with('"') {
        return unescape_literals(arg);
    }
    if !arg.chars().all(|c| c.is_alphanumeric() || c == '_') || arg.is_empty() {
        return None;
    }
    let decl = format!("static const char *{arg} =");
    let start = src.find(&decl)? + decl.len();
    let end = start + src[start..].find(';')?;
    unescape_literals(src[start..end].trim())
}

/// Concatenates adjacent C string literals and resolves their escapes.
fn unescape_literals(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some('"') => {}
            Some(_) => return None,
        }
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    c => out.push(c),
                },
                c => out.push(c),
            }
        }
    }
}

/// JSON literals that the C tests expect the parser to refuse although their schema accepts
/// them: value checks inside deserialisers that a JSON Schema does not state (a rule's text
/// must parse; a currency code must be one ISO 4217 lists).
const VALUE_CHECKS: &[&str] =
    &[r#"{"name":"bad","rule":"country ="}"#, r#"{"currency":"XYZ","observation_end":"2026-01-01T00:00:00Z"}"#];

#[test]
fn example_inputs_match_their_schemas() {
    let map = schema_of();
    let validators = validators();
    let mut sources: Vec<(String, String)> = Vec::new();
    for dir in ["tests/c", "examples/c"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "c" || x == "cpp") {
                sources.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let readme_c: String = readme.split("```c\n").skip(1).filter_map(|b| b.split("\n```").next()).collect();
    sources.push(("README.md".into(), readme_c));

    let header = header_functions();
    let (mut checked, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for (origin, src) in &sources {
        for call in calls(src, origin) {
            let Some((_, params)) = header.get(&call.function) else { continue };
            for (i, param) in params.iter().enumerate() {
                let Some(file) = map.get(&(call.function.clone(), param.clone())) else { continue };
                let Some(text) = call.args.get(i).and_then(|a| c_string(a, src)) else { continue };
                if !text.trim_start().starts_with(['{', '[']) {
                    continue; // TOML, or not a JSON literal
                }
                let value: Result<Value, _> = serde_json::from_str(&text);
                let valid = value.as_ref().is_ok_and(|v| validators[file].is_valid(v));
                match call.expected_error.as_deref() {
                    None if !valid => {
                        let why = match &value {
                            Ok(v) => {
                                validators[file].iter_errors(v).map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
                            }
                            Err(e) => e.to_string(),
                        };
                        failures.push(format!("{}: {} {text} is refused by {file}: {why}", call.at, call.function));
                    }
                    None => checked += 1,
                    Some("CRM_ERR_INVALID_JSON") if valid && !VALUE_CHECKS.contains(&text.as_str()) => {
                        failures.push(format!(
                            "{}: {} {text} is expected to be refused but {file} accepts it",
                            call.at, call.function
                        ))
                    }
                    Some("CRM_ERR_INVALID_JSON") => refused += 1,
                    Some(_) => {}
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 40 && refused >= 3, "only {checked} accepted and {refused} refused examples were found");

    // The README's Rust example of an order.
    let order =
        readme.split("let order: NewOrder = serde_json::from_str(r#\"").nth(1).and_then(|s| s.split("\"#").next());
    let order: Value = serde_json::from_str(order.expect("the README's order example")).unwrap();
    assert!(validators["order.json"].is_valid(&order));
}

/// Wrong inputs: the schema and the deserialiser both refuse them; the right ones both take.
#[test]
fn schema_and_deserialiser_agree_on_wrong_inputs() {
    use crm_core::loyalty::Program;
    use crm_core::rule::Expr;
    use crm_core::{NewCustomer, NewInteraction, NewOrder};

    fn both<T: serde::de::DeserializeOwned>(v: &jsonschema::Validator, json: &str) -> (bool, bool) {
        let value: Value = serde_json::from_str(json).unwrap();
        (v.is_valid(&value), serde_json::from_str::<T>(json).is_ok())
    }
    let v = validators();
    let interaction = r#"{"customer_id": 1, "kind": "survey", "occurred_at": "2026-01-01T00:00:00Z"}"#;
    assert_eq!(both::<NewInteraction>(&v["interaction.json"], interaction), (true, true));
    for wrong in [
        interaction.replace("survey", "survey_answer"),
        interaction.replace("\"kind\"", "\"knd\""),
        interaction.replace("2026-01-01T00:00:00Z", "yesterday"),
        interaction.replace(", \"kind\": \"survey\"", ""),
    ] {
        assert_eq!(both::<NewInteraction>(&v["interaction.json"], &wrong), (false, false), "{wrong}");
    }
    let customer = r#"{"name": "Ada", "kind": "company", "tags": ["vip"], "address": {"country": "SG"}}"#;
    assert_eq!(both::<NewCustomer>(&v["customer.json"], customer), (true, true));
    for wrong in [
        customer.replace("company", "firm"),
        customer.replace("\"tags\"", "\"tag\""),
        customer.replace("[\"vip\"]", "\"vip\""),
    ] {
        assert_eq!(both::<NewCustomer>(&v["customer.json"], &wrong), (false, false), "{wrong}");
    }
    let order = r#"{"external_id": "O-1", "customer_id": 1, "occurred_at": "2026-01-01T00:00:00Z",
        "currency": "usd", "total_minor": 100, "status": "refunded", "items": [{"sku": "S", "quantity": 1, "unit_price_minor": 100}]}"#;
    assert_eq!(both::<NewOrder>(&v["order.json"], order), (true, true));
    for wrong in
        [order.replace("refunded", "returned"), order.replace("\"usd\"", "\"dollars\""), order.replace("100,", "1.5,")]
    {
        assert_eq!(both::<NewOrder>(&v["order.json"], &wrong), (false, false), "{wrong}");
    }
    let rule = r#"{"op": "compare", "left": {"kind": "field", "name": "order_count"}, "cmp": ">=",
        "right": {"kind": "literal", "value": {"type": "int", "value": 2}}}"#;
    assert_eq!(both::<Expr>(&v["rule.json"], rule), (true, true));
    for wrong in
        [rule.replace("\">=\"", "\"=>\""), rule.replace("\"int\"", "\"integer\""), rule.replace("compare", "cmp")]
    {
        assert_eq!(both::<Expr>(&v["rule.json"], &wrong), (false, false), "{wrong}");
    }
    let program = r#"{"name": "P", "rules": [{"name": "b", "kind": "base", "when": "country = \"SG\""}], "debt": "allow_negative"}"#;
    assert_eq!(both::<Program>(&v["loyalty_program.json"], program), (true, true));
    for wrong in
        [program.replace("allow_negative", "negative"), program.replace("\"kind\": \"base\"", "\"kind\": \"basic\"")]
    {
        assert_eq!(both::<Program>(&v["loyalty_program.json"], &wrong), (false, false), "{wrong}");
    }
}
