//! The git layer (crates/git) against the real git server (git http-backend behind
//! HTTP/HTTPS, and OpenSSH's sshd): auth methods, ref kinds, limits, verification, failures.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use driftless_e2e::git_server::{BEARER_TOKEN, GitServer, HTTP_PASSWORD, HTTP_USER, Repo, Signer};
use driftless_git::{
    CheckedOut, CheckoutOptions, CommitTree, Credentials, GitError, GitRef, Limits, RemoteSpec,
    Resolved, TrustedKeys, VerifyMode, fetch_and_checkout, resolve, verify_signatures,
};

fn secret(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn remote(url: &str, pairs: &[(&str, &str)]) -> RemoteSpec {
    RemoteSpec {
        url: url.to_owned(),
        credentials: Credentials::from_secret(url, &secret(pairs)).expect("valid secret"),
        proxy: None,
        timeout: Duration::from_secs(120),
    }
}

fn basic(url: &str) -> RemoteSpec {
    remote(url, &[("username", HTTP_USER), ("password", HTTP_PASSWORD)])
}

fn ssh(server: &GitServer, name: &str) -> RemoteSpec {
    let identity = server.ssh_identity().expect("identity");
    remote(
        &server.ssh_url(name),
        &[
            ("identity", &identity),
            ("known_hosts", &server.known_hosts()),
        ],
    )
}

fn branch(b: &str) -> GitRef {
    GitRef::Branch(b.to_owned())
}

/// resolve + fetch + checkout into a fresh directory.
fn checkout_with(
    remote: &RemoteSpec,
    reference: &GitRef,
    options: &CheckoutOptions,
) -> Result<(tempfile::TempDir, Resolved, CheckedOut), GitError> {
    let resolved = resolve(remote, reference)?;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = fetch_and_checkout(remote, &resolved, options, dir.path())?;
    Ok((dir, resolved, out))
}

fn checkout(
    remote: &RemoteSpec,
    reference: &GitRef,
) -> Result<(tempfile::TempDir, Resolved, CheckedOut), GitError> {
    checkout_with(remote, reference, &CheckoutOptions::default())
}

fn one_commit_repo<'a>(server: &'a GitServer, name: &str) -> (Repo<'a>, String) {
    let repo = server.create_repo(name).expect("repo");
    let commit = repo
        .commit(&[("deploy/app.yaml", b"kind: ConfigMap\n")], "first")
        .expect("commit");
    repo.push().expect("push");
    (repo, commit)
}

/// Incompressible bytes (xorshift), so a pack is as large as its content.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

// ------------------------------------------------------------------------------ auth methods

#[test]
fn http_basic_auth_checks_out_the_branch() {
    let server = GitServer::start().expect("server");
    let (_repo, commit) = one_commit_repo(&server, "app");
    let (dir, resolved, out) =
        checkout(&basic(&server.http_url("app")), &branch("main")).expect("checkout");
    assert_eq!(out.revision.to_string(), format!("main@sha1:{commit}"));
    assert_eq!(
        resolved.revision().map(|r| r.to_string()),
        Some(out.revision.to_string()),
        "the remote check predicts the fetched revision"
    );
    assert_eq!(read(dir.path(), "deploy/app.yaml"), "kind: ConfigMap\n");
    let repo = git2::Repository::open(dir.path()).expect("open");
    assert!(repo.is_shallow(), "a branch is fetched with depth 1");
}

#[test]
fn files_are_checked_out_as_committed_without_gitattributes_conversions() {
    let server = GitServer::start().expect("server");
    let repo = server.create_repo("attrs").expect("repo");
    repo.commit(
        &[
            (".gitattributes", b"*.yaml text eol=crlf\n" as &[u8]),
            ("deploy/app.yaml", b"a: 1\nb: 2\n"),
        ],
        "first",
    )
    .expect("commit");
    repo.push().expect("push");
    let (dir, _, _) =
        checkout(&basic(&server.http_url("attrs")), &branch("main")).expect("checkout");
    // As Flux's go-git: the blob's bytes, no CRLF conversion.
    assert_eq!(read(dir.path(), "deploy/app.yaml"), "a: 1\nb: 2\n");
}

#[test]
fn http_wrong_password_is_an_auth_error() {
    let server = GitServer::start().expect("server");
    one_commit_repo(&server, "app");
    let url = server.http_url("app");
    let err = resolve(
        &remote(&url, &[("username", HTTP_USER), ("password", "wrong")]),
        &branch("main"),
    )
    .expect_err("refused");
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("refused the username and password"),
        "{err}"
    );
}

#[test]
fn http_without_credentials_says_to_set_them() {
    let server = GitServer::start().expect("server");
    one_commit_repo(&server, "app");
    let err = resolve(&remote(&server.http_url("app"), &[]), &branch("main")).expect_err("refused");
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("secretRef"), "{err}");
}

#[test]
fn http_bearer_token_fetches() {
    let server = GitServer::start().expect("server");
    let (_repo, commit) = one_commit_repo(&server, "app");
    let spec = remote(&server.http_url("app"), &[("bearerToken", BEARER_TOKEN)]);
    let packs = server.http_upload_packs();
    let resolved = resolve(&spec, &branch("main")).expect("resolve");
    assert_eq!(
        resolved.commit.map(|c| c.to_string()),
        Some(commit.clone()),
        "the remote check carries the token"
    );
    assert_eq!(server.http_upload_packs(), packs, "and fetches no pack");
    let (dir, _, out) = checkout(&spec, &branch("main")).expect("checkout");
    assert_eq!(out.revision.to_string(), format!("main@sha1:{commit}"));
    assert_eq!(read(dir.path(), "deploy/app.yaml"), "kind: ConfigMap\n");
    let (_, _, tagged) = {
        let repo = server.create_repo("tags").expect("repo");
        repo.commit(&[("v", b"1")], "one").expect("commit");
        repo.tag("v1.0.0").expect("tag");
        repo.push().expect("push");
        let tags = remote(&server.http_url("tags"), &[("bearerToken", BEARER_TOKEN)]);
        checkout(&tags, &GitRef::Semver("^1".into())).expect("semver with a token")
    };
    assert_eq!(tagged.tag.as_deref(), Some("v1.0.0"));

    let wrong = remote(&server.http_url("app"), &[("bearerToken", "nope")]);
    let err = resolve(&wrong, &branch("main")).expect_err("refused");
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("bearerToken"), "{err}");
}

#[test]
fn https_with_ca_crt() {
    let server = GitServer::start().expect("server");
    let (_repo, commit) = one_commit_repo(&server, "app");
    let url = server.https_url("app");
    let trusted = remote(
        &url,
        &[
            ("username", HTTP_USER),
            ("password", HTTP_PASSWORD),
            ("ca.crt", server.ca_pem()),
        ],
    );
    let (_dir, _resolved, out) = checkout(&trusted, &branch("main")).expect("checkout");
    assert_eq!(out.revision.to_string(), format!("main@sha1:{commit}"));

    // Without ca.crt the system trust store does not know the test CA.
    let err = resolve(&basic(&url), &branch("main")).expect_err("untrusted");
    assert!(
        matches!(err, GitError::UntrustedHost { .. }),
        "expected an untrusted-certificate error, got {err:?}"
    );

    // Another CA is refused too.
    let other_ca = {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).expect("self-signed").pem()
    };
    let wrong = remote(
        &url,
        &[
            ("username", HTTP_USER),
            ("password", HTTP_PASSWORD),
            ("ca.crt", &other_ca),
        ],
    );
    let err = resolve(&wrong, &branch("main")).expect_err("wrong CA");
    assert!(matches!(err, GitError::UntrustedHost { .. }), "{err:?}");
    assert!(err.to_string().contains("not issued by ca.crt"), "{err}");
}

#[test]
fn https_client_certificate_authenticates_to_a_mutual_tls_server() {
    let server = GitServer::start().expect("server");
    let (_repo, commit) = one_commit_repo(&server, "app");
    let url = server.mtls_url("app");
    let user = [("username", HTTP_USER), ("password", HTTP_PASSWORD)];
    let with = |extra: &[(&str, &str)]| {
        let mut pairs = user.to_vec();
        pairs.extend_from_slice(extra);
        remote(&url, &pairs)
    };
    let good = with(&[
        ("ca.crt", server.ca_pem()),
        ("tls.crt", server.client_cert_pem()),
        ("tls.key", server.client_key_pem()),
    ]);
    let packs = server.http_upload_packs();
    let resolved = resolve(&good, &branch("main")).expect("resolve");
    assert_eq!(resolved.commit.map(|c| c.to_string()), Some(commit.clone()));
    assert_eq!(
        server.http_upload_packs(),
        packs,
        "the remote check fetches no pack"
    );
    let (dir, _, out) = checkout(&good, &branch("main")).expect("checkout");
    assert_eq!(out.revision.to_string(), format!("main@sha1:{commit}"));
    assert_eq!(read(dir.path(), "deploy/app.yaml"), "kind: ConfigMap\n");

    // Without a client certificate the server refuses the connection.
    let without = with(&[("ca.crt", server.ca_pem())]);
    assert!(resolve(&without, &branch("main")).is_err());

    // A certificate the server's CA did not issue: refused, and the error names tls.crt.
    let stranger_key = rcgen::KeyPair::generate().expect("key");
    let stranger = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("params")
        .self_signed(&stranger_key)
        .expect("self-signed");
    let wrong = with(&[
        ("ca.crt", server.ca_pem()),
        ("tls.crt", &stranger.pem()),
        ("tls.key", &stranger_key.serialize_pem()),
    ]);
    let err = resolve(&wrong, &branch("main")).expect_err("refused");
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("tls.crt"), "{err}");

    // The server's certificate is still checked against ca.crt on this transport.
    let untrusted = with(&[
        ("ca.crt", &stranger.pem()),
        ("tls.crt", server.client_cert_pem()),
        ("tls.key", server.client_key_pem()),
    ]);
    let err = resolve(&untrusted, &branch("main")).expect_err("untrusted");
    assert!(matches!(err, GitError::UntrustedHost { .. }), "{err:?}");

    // Not PEM at all: a Secret error before anything goes on the wire.
    let garbage = with(&[("tls.crt", "CERT"), ("tls.key", "KEY")]);
    let err = resolve(&garbage, &branch("main")).expect_err("malformed");
    assert!(matches!(err, GitError::InvalidSecret(_)), "{err:?}");
}

#[test]
fn ssh_with_identity_and_known_hosts() {
    let server = GitServer::start().expect("server");
    let (_repo, commit) = one_commit_repo(&server, "app");
    let (dir, resolved, out) = checkout(&ssh(&server, "app"), &branch("main")).expect("checkout");
    assert_eq!(resolved.commit.map(|c| c.to_string()), Some(commit.clone()));
    assert_eq!(out.revision.to_string(), format!("main@sha1:{commit}"));
    assert_eq!(read(dir.path(), "deploy/app.yaml"), "kind: ConfigMap\n");
}

#[test]
fn ssh_wrong_key_is_an_auth_error() {
    let server = GitServer::start().expect("server");
    one_commit_repo(&server, "app");
    let identity = server.wrong_ssh_identity().expect("key");
    let spec = remote(
        &server.ssh_url("app"),
        &[
            ("identity", &identity),
            ("known_hosts", &server.known_hosts()),
        ],
    );
    let err = resolve(&spec, &branch("main")).expect_err("refused");
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
}

#[test]
fn ssh_unknown_or_mismatched_host_key_is_refused() {
    let server = GitServer::start().expect("server");
    one_commit_repo(&server, "app");
    let identity = server.ssh_identity().expect("key");
    let mismatch = remote(
        &server.ssh_url("app"),
        &[
            ("identity", &identity),
            ("known_hosts", &server.wrong_known_hosts().expect("wrong")),
        ],
    );
    let err = resolve(&mismatch, &branch("main")).expect_err("mismatch");
    assert!(matches!(err, GitError::UntrustedHost { .. }), "{err:?}");
    assert!(err.to_string().contains("does not match"), "{err}");

    let other_host = server
        .known_hosts()
        .replace("[127.0.0.1]", "[git.example.org]");
    let unknown = remote(
        &server.ssh_url("app"),
        &[("identity", &identity), ("known_hosts", &other_host)],
    );
    let err = resolve(&unknown, &branch("main")).expect_err("unknown");
    assert!(err.to_string().contains("not in known_hosts"), "{err}");
}

#[test]
fn malformed_url_and_incomplete_secret() {
    let err = Credentials::from_secret("ssh://git@h/r", &secret(&[("identity", "k")]))
        .err()
        .expect("incomplete");
    assert!(err.to_string().contains("known_hosts"), "{err}");
    let spec = RemoteSpec {
        url: "git@github.com:org/repo.git".into(),
        credentials: Credentials::default(),
        proxy: None,
        timeout: Duration::from_secs(5),
    };
    let err = resolve(&spec, &branch("main")).expect_err("malformed");
    assert!(matches!(err, GitError::InvalidUrl { .. }), "{err:?}");
}

// ------------------------------------------------------------------------------ ref kinds

#[test]
fn every_ref_kind_resolves_with_flux_revisions() {
    let server = GitServer::start().expect("server");
    let repo = server.create_repo("app").expect("repo");
    let first = repo.commit(&[("v", b"1.0.0")], "one").expect("commit");
    repo.tag("v1.0.0").expect("tag");
    let second = repo.commit(&[("v", b"1.2.0")], "two").expect("commit");
    repo.tag_annotated("v1.2.0", "annotated").expect("tag");
    let third = repo.commit(&[("v", b"2.0.0")], "three").expect("commit");
    repo.tag("v2.0.0").expect("tag");
    repo.tag("not-a-version").expect("tag");
    repo.push().expect("push");
    repo.checkout_branch("feature").expect("branch");
    let pr = repo.commit(&[("v", b"pr")], "pr").expect("commit");
    repo.push_ref("refs/pull/1/head").expect("push pr");
    let spec = basic(&server.http_url("app"));

    let rev = |r: GitRef| {
        checkout(&spec, &r)
            .expect("checkout")
            .2
            .revision
            .to_string()
    };
    assert_eq!(rev(branch("main")), format!("main@sha1:{third}"));
    assert_eq!(
        rev(GitRef::Tag("v1.0.0".into())),
        format!("v1.0.0@sha1:{first}")
    );
    assert_eq!(
        rev(GitRef::Tag("v1.2.0".into())),
        format!("v1.2.0@sha1:{second}"),
        "an annotated tag resolves to its commit"
    );
    assert_eq!(
        rev(GitRef::Semver("~1".into())),
        format!("v1.2.0@sha1:{second}")
    );
    assert_eq!(
        rev(GitRef::Semver(">=1.0.0".into())),
        format!("v2.0.0@sha1:{third}")
    );
    assert_eq!(
        rev(GitRef::Name("refs/pull/1/head".into())),
        format!("refs/pull/1/head@sha1:{pr}")
    );
    assert_eq!(
        rev(GitRef::Commit {
            sha: first.clone(),
            branch: None
        }),
        format!("sha1:{first}")
    );
    assert_eq!(
        rev(GitRef::Commit {
            sha: second.clone(),
            branch: Some("main".into())
        }),
        format!("main@sha1:{second}")
    );
    let (dir, _, _) = checkout(&spec, &GitRef::Semver("<2".into())).expect("checkout");
    assert_eq!(read(dir.path(), "v"), "1.2.0");
}

#[test]
fn unknown_refs_are_not_found() {
    let server = GitServer::start().expect("server");
    let (repo, commit) = one_commit_repo(&server, "app");
    repo.tag("v1.0.0").expect("tag");
    repo.push().expect("push");
    let spec = basic(&server.http_url("app"));
    let not_found = |r: GitRef| match checkout(&spec, &r) {
        Err(GitError::RefNotFound { kind, name, .. }) => format!("{kind} {name}"),
        other => panic!("expected RefNotFound, got {:?}", other.map(|o| o.2)),
    };
    assert_eq!(not_found(branch("nope")), "branch nope");
    assert_eq!(not_found(GitRef::Tag("v9".into())), "tag v9");
    assert_eq!(
        not_found(GitRef::Name("refs/pull/9/head".into())),
        "ref refs/pull/9/head"
    );
    let missing = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(
        not_found(GitRef::Commit {
            sha: missing.into(),
            branch: None
        }),
        format!("commit {missing}")
    );
    assert!(
        not_found(GitRef::Commit {
            sha: commit.clone(),
            branch: Some("nope".into())
        })
        .starts_with("branch nope")
    );
    // Flux's default branch is master; this repository only has main.
    let default = GitRef::from_spec(None, None, None, None, None).expect("valid");
    assert_eq!(not_found(default), "branch master");
    match checkout(&spec, &GitRef::Semver(">=5".into())) {
        Err(GitError::NoMatchingTag { constraint, .. }) => assert_eq!(constraint, ">=5"),
        other => panic!("expected NoMatchingTag, got {:?}", other.map(|o| o.2)),
    }
}

#[test]
fn remote_check_downloads_no_objects() {
    let server = GitServer::start().expect("server");
    let (repo, first) = one_commit_repo(&server, "app");
    let spec = basic(&server.http_url("app"));
    let before = server.http_upload_packs();
    let resolved = resolve(&spec, &branch("main")).expect("resolve");
    assert_eq!(resolved.commit.map(|c| c.to_string()), Some(first));
    assert_eq!(
        server.http_upload_packs(),
        before,
        "ls-remote must not fetch a pack"
    );
    let second = repo.commit(&[("b", b"b")], "second").expect("commit");
    repo.push().expect("push");
    let resolved = resolve(&spec, &branch("main")).expect("resolve");
    assert_eq!(resolved.commit.map(|c| c.to_string()), Some(second));
    assert_eq!(server.http_upload_packs(), before);
}

// ------------------------------------------------------------------------------ checkout shape

#[test]
fn packing_the_fetched_tree_gives_the_bytes_of_packing_the_checkout() {
    let server = GitServer::start().expect("server");
    let repo = server.create_repo("same").expect("repo");
    repo.commit_symlink("link", "../..", "a link")
        .expect("link");
    repo.commit(
        &[
            ("b.yaml", b"b" as &[u8]),
            ("a/z.yaml", b"z"),
            ("a/b/c.yaml", b"c"),
            ("a-b.yaml", b"sorted between a and b"),
        ],
        "tree",
    )
    .expect("commit");
    repo.push().expect("push");
    let spec = basic(&server.http_url("same"));
    let (on_disk, _, checked) = checkout(&spec, &branch("main")).expect("checkout");
    assert!(checked.worktree);
    let fetched_only = CheckoutOptions {
        skip_worktree: true,
        ..CheckoutOptions::default()
    };
    let (bare, _, fetched) = checkout_with(&spec, &branch("main"), &fetched_only).expect("fetch");
    assert!(!fetched.worktree);
    assert!(!bare.path().join("b.yaml").exists(), "nothing written");

    let no_git = |p: &Path, _: bool| p != Path::new(".git");
    let out = tempfile::tempdir().expect("tempdir");
    let from_disk =
        driftless_core::artifact::pack_dir(on_disk.path(), &out.path().join("d"), no_git)
            .expect("pack the checkout");
    let tree = CommitTree::open(bare.path(), fetched.commit).expect("open the tree");
    let from_tree = driftless_core::artifact::pack_tree(&tree, &out.path().join("t"), no_git)
        .expect("pack the tree");
    assert_eq!(from_tree, from_disk);
}

#[test]
fn sparse_checkout_writes_only_the_listed_directories() {
    let server = GitServer::start().expect("server");
    let repo = server.create_repo("app").expect("repo");
    repo.commit(
        &[
            ("apps/a.yaml", b"a"),
            ("infra/b.yaml", b"b"),
            ("top.yaml", b"t"),
        ],
        "c",
    )
    .expect("commit");
    repo.push().expect("push");
    let spec = basic(&server.http_url("app"));
    let options = CheckoutOptions {
        sparse_checkout: vec!["apps/".into()],
        ..CheckoutOptions::default()
    };
    let (dir, _, _) = checkout_with(&spec, &branch("main"), &options).expect("checkout");
    assert!(dir.path().join("apps/a.yaml").exists());
    assert!(!dir.path().join("infra/b.yaml").exists());
    assert!(!dir.path().join("top.yaml").exists());

    let missing = CheckoutOptions {
        sparse_checkout: vec!["nope".into()],
        ..CheckoutOptions::default()
    };
    let err = checkout_with(&spec, &branch("main"), &missing).expect_err("missing dir");
    assert!(matches!(err, GitError::SparsePathMissing(_)), "{err:?}");
}

#[test]
fn huge_file_is_refused_before_checkout() {
    let server = GitServer::start().expect("server");
    let repo = server.create_repo("app").expect("repo");
    let big = vec![b'x'; 2 << 20];
    repo.commit(&[("big.bin", &big), ("small", b"s")], "big")
        .expect("commit");
    repo.push().expect("push");
    let options = CheckoutOptions {
        limits: Limits {
            max_file_size: 1 << 20,
            ..Limits::default()
        },
        ..CheckoutOptions::default()
    };
    let resolved = resolve(&basic(&server.http_url("app")), &branch("main")).expect("resolve");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = fetch_and_checkout(
        &basic(&server.http_url("app")),
        &resolved,
        &options,
        dir.path(),
    )
    .expect_err("too large");
    assert!(matches!(err, GitError::TooLarge(_)), "{err:?}");
    assert!(err.to_string().contains("big.bin"), "{err}");
    assert!(!dir.path().join("big.bin").exists(), "nothing was written");

    let tight_download = CheckoutOptions {
        limits: Limits {
            max_fetch_bytes: 64 << 10,
            ..Limits::default()
        },
        ..CheckoutOptions::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let big_random = random_bytes(1 << 20);
    repo.commit(&[("random.bin", &big_random)], "random")
        .expect("commit");
    repo.push().expect("push");
    let resolved = resolve(&basic(&server.http_url("app")), &branch("main")).expect("resolve");
    let err = fetch_and_checkout(
        &basic(&server.http_url("app")),
        &resolved,
        &tight_download,
        dir.path(),
    )
    .expect_err("download too large");
    assert!(matches!(err, GitError::TooLarge(_)), "{err:?}");
}

#[test]
fn submodules_are_checked_out_with_the_parent_credentials() {
    let server = GitServer::start().expect("server");
    let (_lib, _) = one_commit_repo(&server, "lib");
    let app = server.create_repo("app").expect("repo");
    app.commit(&[("main.yaml", b"m")], "first").expect("commit");
    let header = format!("http.extraHeader=Authorization: Bearer {BEARER_TOKEN}");
    app.git(&[
        "-c",
        &header,
        "-c",
        "protocol.allow=always",
        "submodule",
        "add",
        "--quiet",
        &server.http_url("lib"),
        "vendor/lib",
    ])
    .expect("submodule add");
    app.commit(&[], "add submodule").expect("commit");
    app.push().expect("push");
    let spec = basic(&server.http_url("app"));
    let with = CheckoutOptions {
        recurse_submodules: true,
        ..CheckoutOptions::default()
    };
    let (dir, _, _) = checkout_with(&spec, &branch("main"), &with).expect("checkout");
    assert_eq!(
        read(dir.path(), "vendor/lib/deploy/app.yaml"),
        "kind: ConfigMap\n"
    );
    let (dir, _, _) = checkout(&spec, &branch("main")).expect("checkout");
    assert!(!dir.path().join("vendor/lib/deploy/app.yaml").exists());
}

// ------------------------------------------------------------------------------ failures

#[test]
fn server_going_away_mid_fetch_is_an_error_not_a_hang() {
    let server = GitServer::start().expect("server");
    let repo = server.create_repo("big").expect("repo");
    let random = random_bytes(8 << 20);
    repo.commit(&[("blob.bin", &random)], "big")
        .expect("commit");
    repo.push().expect("push");
    let spec = basic(&server.http_url("big"));
    let resolved = resolve(&spec, &branch("main")).expect("resolve");
    server.throttle_http(16 << 10);
    let sent_before = server.http_bytes_sent();
    std::thread::scope(|s| {
        let fetch = s.spawn(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            fetch_and_checkout(&spec, &resolved, &CheckoutOptions::default(), dir.path())
        });
        while server.http_bytes_sent() < sent_before + (256 << 10) {
            assert!(
                !fetch.is_finished(),
                "the fetch ended before the server was stopped"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill_http();
        let result = fetch.join().expect("no panic");
        let err = result.expect_err("a fetch cut short must fail");
        assert!(matches!(err, GitError::Git { .. }), "{err:?}");
    });
}

#[test]
fn a_stalled_server_hits_the_timeout() {
    let server = GitServer::start().expect("server");
    let repo = server.create_repo("big").expect("repo");
    let data = random_bytes(1 << 20);
    repo.commit(&[("blob.bin", &data)], "big").expect("commit");
    repo.push().expect("push");
    let mut spec = basic(&server.http_url("big"));
    let resolved = resolve(&spec, &branch("main")).expect("resolve");
    server.throttle_http(64);
    spec.timeout = Duration::from_secs(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let err = fetch_and_checkout(&spec, &resolved, &CheckoutOptions::default(), dir.path())
        .expect_err("times out");
    assert!(matches!(err, GitError::Timeout { .. }), "{err:?}");
}

// ------------------------------------------------------------------------------ verification

fn keys(armored: &str) -> TrustedKeys {
    TrustedKeys::parse(&[("author.asc".into(), armored.as_bytes().to_vec())]).expect("keys parse")
}

#[test]
fn signed_commits_and_tags_verify_against_trusted_keys() {
    let server = GitServer::start().expect("server");
    server.require_gpg().expect("gpg");
    let trusted = keys(&server.trusted_gpg_public_key().expect("key"));
    let repo = server.create_repo("app").expect("repo");
    repo.commit_signed(&[("a", b"a")], "signed", Signer::Trusted)
        .expect("commit");
    repo.tag_signed("v1.0.0", "signed tag", Signer::Trusted)
        .expect("tag");
    repo.tag_annotated("v1.0.1", "unsigned tag").expect("tag");
    repo.push().expect("push");
    let spec = basic(&server.http_url("app"));

    let (dir, _, out) = checkout(&spec, &GitRef::Tag("v1.0.0".into())).expect("checkout");
    let msg = verify_signatures(
        dir.path(),
        out.commit,
        out.tag.as_deref(),
        VerifyMode::TagAndHead,
        &trusted,
    )
    .expect("verifies");
    assert!(
        msg.contains("tag 'v1.0.0'") && msg.contains("commit"),
        "{msg}"
    );

    let (dir, _, out) = checkout(&spec, &GitRef::Tag("v1.0.1".into())).expect("checkout");
    let err = verify_signatures(
        dir.path(),
        out.commit,
        out.tag.as_deref(),
        VerifyMode::Tag,
        &trusted,
    )
    .expect_err("unsigned tag");
    assert!(err.to_string().contains("not signed"), "{err}");
    verify_signatures(
        dir.path(),
        out.commit,
        out.tag.as_deref(),
        VerifyMode::Head,
        &trusted,
    )
    .expect("the commit itself is signed");

    // Signed by a stranger: refused with the trusted key, accepted with the stranger's.
    repo.commit_signed(&[("b", b"b")], "stranger", Signer::Stranger)
        .expect("commit");
    repo.push().expect("push");
    let (dir, _, out) = checkout(&spec, &branch("main")).expect("checkout");
    let err = verify_signatures(dir.path(), out.commit, None, VerifyMode::Head, &trusted)
        .expect_err("wrong signer");
    assert!(err.to_string().contains("no trusted key"), "{err}");
    let stranger = keys(&server.stranger_gpg_public_key().expect("key"));
    verify_signatures(dir.path(), out.commit, None, VerifyMode::Head, &stranger).expect("verifies");
    let err = verify_signatures(dir.path(), out.commit, None, VerifyMode::Tag, &trusted)
        .expect_err("no tag");
    assert!(err.to_string().contains("needs"), "{err}");

    // Unsigned commit.
    repo.commit(&[("c", b"c")], "unsigned").expect("commit");
    repo.push().expect("push");
    let (dir, _, out) = checkout(&spec, &branch("main")).expect("checkout");
    let err = verify_signatures(dir.path(), out.commit, None, VerifyMode::Head, &trusted)
        .expect_err("unsigned");
    assert!(err.to_string().contains("is not signed"), "{err}");
}
