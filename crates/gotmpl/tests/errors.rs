//! Bad input: every error names the template and line, and nothing panics or hangs.

use driftless_gotmpl::{ErrorKind, Function, Library, Limits, Param, Templates, Value};

fn helm_set(files: &[(&str, &str)]) -> Templates {
    let mut t = Templates::helm();
    for (n, s) in files {
        t.parse(n, s).expect("parses");
    }
    t
}

#[test]
fn syntax_error_names_template_and_line() {
    let mut t = Templates::new(Library::Sprig);
    let e = t
        .parse("a.yaml", "ok\n\n{{ if .x }}\n{{ range }}")
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::Parse);
    assert_eq!(e.template(), "a.yaml");
    assert_eq!(e.line(), 4);
    assert_eq!(e.to_string(), "template: a.yaml:4: missing value for range");
    assert_eq!(
        e.helm_message(),
        "parse error at (a.yaml:4): missing value for range"
    );
}

#[test]
fn unknown_function_is_a_parse_error() {
    let mut t = Templates::new(Library::Go);
    let e = t.parse("t", "x\n{{ toYaml . }}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: t:2: function \"toYaml\" not defined"
    );
    assert_eq!(e.line(), 2);
}

#[test]
fn exec_errors_carry_line_and_column() {
    let t = helm_set(&[("c/templates/x.yaml", "a: 1\nb: {{ .Values.a.b }}")]);
    let data = Value::from_json(&serde_json::json!({"Values": {}}));
    let e = t.execute("c/templates/x.yaml", &data).unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::Exec);
    assert_eq!((e.line(), e.column()), (2, Some(13)));
    assert!(
        e.to_string()
            .contains("nil pointer evaluating interface {}.b"),
        "{e}"
    );
}

#[test]
fn type_errors_name_the_types() {
    let mut t = Templates::new(Library::Sprig);
    t.parse("t", "{{ indent .n \"x\" }}").expect("parses");
    let e = t
        .execute("t", &Value::from_json(&serde_json::json!({"n": 2})))
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("wrong type for value; expected int; got float64"),
        "{e}"
    );
}

#[test]
fn required_and_fail_give_the_users_message() {
    let t = helm_set(&[
        (
            "c/templates/_h.tpl",
            "{{ define \"h\" }}{{ required \"set .Values.x\" .Values.x }}{{ end }}",
        ),
        ("c/templates/a.yaml", "k: {{ include \"h\" . }}"),
        ("c/templates/b.yaml", "\n  {{ fail \"nope\" }}"),
    ]);
    let data = Value::from_json(&serde_json::json!({"Values": {}}));
    let e = t.execute("c/templates/a.yaml", &data).unwrap_err();
    assert_eq!(e.fail_message(), Some("set .Values.x"));
    assert_eq!(
        e.helm_message(),
        "execution error at (c/templates/a.yaml:1:6): set .Values.x"
    );
    let e = t.execute("c/templates/b.yaml", &data).unwrap_err();
    assert_eq!(
        e.helm_message(),
        "execution error at (c/templates/b.yaml:2:5): nope"
    );
}

#[test]
fn recursive_include_hits_the_depth_limit() {
    let t = helm_set(&[(
        "c/templates/a.yaml",
        "{{ define \"loop\" }}{{ include \"loop\" . }}{{ end }}{{ include \"loop\" . }}",
    )]);
    let e = t
        .execute("c/templates/a.yaml", &Value::empty_map())
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::DepthLimit, "{e}");
}

#[test]
fn recursive_template_hits_the_depth_limit() {
    let mut t = Templates::new(Library::Go);
    t.parse(
        "t",
        "{{ define \"r\" }}x{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}",
    )
    .expect("parses");
    let e = t.execute("t", &Value::Nil).unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::DepthLimit);
    assert!(
        e.to_string()
            .contains("exceeded maximum template depth (1000)"),
        "{e}"
    );
}

#[test]
fn deep_recursion_does_not_overflow_the_stack() {
    // A small thread stack: deep nesting must grow on the heap, not crash.
    let h = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut t = Templates::helm();
            t.set_limits(Limits {
                max_depth: 5000,
                ..Limits::default()
            });
            t.parse(
                "t",
                "{{ define \"r\" }}{{ if gt . 0 }}{{ include \"r\" (sub . 1) }}{{ end }}{{ end }}{{ include \"r\" 4000 }}",
            )
            .expect("parses");
            t.execute("t", &Value::Nil).map(|s| s.len())
        })
        .expect("spawn");
    assert_eq!(h.join().expect("no panic").expect("renders"), 0);
}

#[test]
fn exponential_output_hits_the_output_limit() {
    let mut t = Templates::helm();
    t.set_limits(Limits {
        max_output: 1 << 20,
        ..Limits::default()
    });
    t.parse(
        "t",
        r#"{{ define "d" }}{{ if gt . 0 }}{{ include "d" (sub . 1) }}{{ include "d" (sub . 1) }}{{ else }}xxxxxxxx{{ end }}{{ end }}{{ include "d" 40 }}"#,
    )
    .expect("parses");
    let e = t.execute("t", &Value::Nil).unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::OutputLimit, "{e}");
}

#[test]
fn endless_silent_loop_hits_the_step_limit() {
    let mut t = Templates::new(Library::Sprig);
    t.set_limits(Limits {
        max_steps: 100_000,
        ..Limits::default()
    });
    t.parse("t", "{{ range $i := 1000000000000 }}{{ end }}")
        .expect("parses");
    let e = t.execute("t", &Value::Nil).unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::StepLimit, "{e}");
}

#[test]
fn huge_lists_and_strings_are_refused() {
    let mut t = Templates::new(Library::Sprig);
    t.parse("a", "{{ len (until 100000000000) }}")
        .expect("parses");
    t.parse("b", "{{ repeat 100000000000 \"x\" }}")
        .expect("parses");
    assert!(t.execute("a", &Value::Nil).is_err());
    assert!(t.execute("b", &Value::Nil).is_err());
}

#[test]
fn missing_template_is_an_error() {
    let t = Templates::helm();
    let e = t.execute("nope", &Value::Nil).unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::NoSuchTemplate);
}

#[test]
fn lookup_can_be_replaced_by_a_callback() {
    let mut t = Templates::helm();
    t.add_func(
        "lookup",
        Function::new(vec![Param::String; 4], None, |_, a| {
            let mut m = driftless_gotmpl::Map::new();
            m.insert("kind".into(), a[1].clone());
            Ok(Value::map(m))
        }),
    );
    t.parse("t", "{{ (lookup \"v1\" \"Secret\" \"ns\" \"n\").kind }}")
        .expect("parses");
    assert_eq!(t.execute("t", &Value::Nil).expect("renders"), "Secret");
}

#[test]
fn callbacks_can_render_other_templates() {
    let mut t = Templates::new(Library::Go);
    t.add_func(
        "twice",
        Function::new(vec![Param::String], None, |call, a| {
            let name = a[0].as_str().unwrap_or_default().to_string();
            let once = call.include(&name, Value::Nil)?;
            Ok(Value::str(format!("{once}{once}")))
        }),
    );
    t.parse("t", "{{ define \"x\" }}ab{{ end }}{{ twice \"x\" }}")
        .expect("parses");
    assert_eq!(t.execute("t", &Value::Nil).expect("renders"), "abab");
}

#[test]
fn missing_key_error_mode() {
    let mut t = Templates::new(Library::Go);
    t.set_missing_key(driftless_gotmpl::MissingKey::Error);
    t.parse("t", "{{ .a }}").expect("parses");
    let e = t.execute("t", &Value::empty_map()).unwrap_err();
    assert!(
        e.to_string().ends_with("map has no entry for key \"a\""),
        "{e}"
    );
}

#[test]
fn fixed_now_for_dates() {
    let mut t = Templates::new(Library::Sprig);
    t.set_now(chrono::DateTime::from_timestamp(1_700_000_000, 0));
    t.parse(
        "t",
        "{{ now | date \"2006-01-02T15:04:05Z07:00\" }} {{ now | unixEpoch }}",
    )
    .expect("parses");
    assert_eq!(
        t.execute("t", &Value::Nil).expect("renders"),
        "2023-11-14T22:13:20Z 1700000000"
    );
}

#[test]
fn templates_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Templates>();
    assert_send_sync::<Value>();
}

/// Garbage in, an error or output out: never a panic.
#[test]
fn garbage_never_panics() {
    let pieces = [
        "{{", "}}", "{{-", "-}}", " ", "if", "else", "end", "range", "with", "define", "\"x\"",
        "`r`", "$x", ":=", "=", "|", "(", ")", ".a", ".", "nil", "1", "1.5", "'c'", "/*", "*/",
        "template", "block", "break", "continue", "len", "index", "printf", "\"%d\"", ",", "\n",
        "x", "#", "é", "0x", "1e", "\\", "include", "tpl", "toYaml", "dict", "list",
    ];
    let mut seed: u64 = 0x9E3779B97F4A7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let data = Value::from_json(&serde_json::json!({"a": {"b": [1, "x", null]}, "Values": {}}));
    for _ in 0..3000 {
        let n = (next() % 12) as usize + 1;
        let src: String = (0..n)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize])
            .collect();
        let mut t = Templates::helm();
        t.set_limits(Limits {
            max_depth: 50,
            max_output: 1 << 16,
            max_steps: 10_000,
        });
        if t.parse("g", &src).is_ok() {
            let _ = t.execute("g", &data);
        }
    }
}

#[test]
fn random_and_hashing_functions_have_the_right_shape() {
    let mut t = Templates::new(Library::Sprig);
    t.parse(
        "t",
        r#"{{ htpasswd "admin" "secret" }}|{{ bcrypt "pw" }}|{{ uuidv4 }}|{{ randAlphaNum 12 }}|{{ randBytes 9 | len }}"#,
    )
    .expect("parses");
    let out = t.execute("t", &Value::Nil).expect("renders");
    let parts: Vec<&str> = out.split('|').collect();
    let (user, hash) = parts[0].split_once(':').expect("user:hash");
    assert_eq!(user, "admin");
    assert!(hash.starts_with("$2a$10$") && hash.len() == 60, "{hash}");
    assert!(bcrypt::verify("secret", hash).expect("valid bcrypt"));
    assert!(parts[1].starts_with("$2a$10$"));
    assert_eq!(parts[2].len(), 36);
    assert!(parts[3].len() == 12 && parts[3].chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(parts[4], "12");
}

#[test]
fn certificate_functions_make_pem() {
    let mut t = Templates::helm();
    t.parse(
        "t",
        r#"{{- $ca := genCA "my-ca" 365 -}}
{{- $cert := genSignedCert "svc.ns.svc" (list "10.0.0.1") (list "svc" "svc.ns.svc") 365 $ca -}}
{{- $self := genSelfSignedCert "self" nil (list "a.example") 30 -}}
{{ $ca.Cert | b64enc | b64dec }}|{{ $cert.Cert }}|{{ $cert.Key }}|{{ $self.Cert }}|{{ genPrivateKey "ecdsa" }}|{{ genPrivateKey "ed25519" }}|{{ genPrivateKey "x" }}"#,
    )
    .expect("parses");
    let out = t.execute("t", &Value::Nil).expect("renders");
    let parts: Vec<&str> = out.split('|').collect();
    for i in [0, 1, 3] {
        assert!(
            parts[i].starts_with("-----BEGIN CERTIFICATE-----"),
            "{}",
            parts[i]
        );
        assert!(parts[i].trim_end().ends_with("-----END CERTIFICATE-----"));
    }
    // The keys Sprig makes, in the PEM forms Go's x509 writes, and they parse as such.
    {
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        use rsa::traits::PublicKeyParts as _;
        let k = rsa::RsaPrivateKey::from_pkcs1_pem(parts[2]).expect("an RSA PKCS #1 key");
        assert_eq!(k.size() * 8, 2048);
        p256::SecretKey::from_sec1_pem(parts[4]).expect("a P-256 SEC 1 key");
        assert!(
            parts[5].starts_with("-----BEGIN PRIVATE KEY-----"),
            "{}",
            parts[5]
        );
    }
    assert_eq!(parts[6], "Unknown type x");
    assert_ne!(parts[0], parts[1]);

    let mut t = Templates::helm();
    t.parse("r", r#"{{ genPrivateKey "rsa" }}"#)
        .expect("parses");
    let pem = t.execute("r", &Value::Nil).expect("renders");
    {
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        use rsa::traits::PublicKeyParts as _;
        let k = rsa::RsaPrivateKey::from_pkcs1_pem(&pem).expect("an RSA PKCS #1 key");
        assert_eq!(
            k.size() * 8,
            4096,
            "Sprig's genPrivateKey \"rsa\" is 4096 bits"
        );
    }
    let mut t = Templates::helm();
    t.parse("d", r#"{{ genPrivateKey "dsa" }}"#)
        .expect("parses");
    let e = t.execute("d", &Value::Nil).unwrap_err();
    assert!(e.to_string().contains("not supported by driftless"), "{e}");
    t.parse("s", r#"{{ genSignedCert "x" nil nil 1 "notaca" }}"#)
        .expect("parses");
    assert!(t.execute("s", &Value::Nil).is_err());
}

/// Go maps are references, so a template can make a map contain itself. Encoding, copying,
/// comparing or printing it must end (Go's own printer would loop forever).
#[test]
fn self_containing_maps_do_not_crash() {
    let mut t = Templates::helm();
    t.parse(
        "t",
        r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "self" $d }}{{ $c := deepCopy $d }}{{ len (toJson $d) | lt 0 }} {{ len (toYaml $d) | lt 0 }} {{ deepEqual $d $c }} {{ len (print $d) | lt 0 }} {{ has $d (list $c) }}"#,
    )
    .expect("parses");
    let out = t.execute("t", &Value::Nil).expect("renders");
    assert!(out.starts_with("true true "), "{out}");
}
