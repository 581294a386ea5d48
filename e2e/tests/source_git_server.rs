//! The git server fixture itself, exercised with the real `git` client: if these fail, every
//! source-controller test that uses the fixture is suspect.

use std::process::Command;

use driftless_e2e::git_server::{BEARER_TOKEN, GitServer, HTTP_PASSWORD, HTTP_USER, Signer};

fn git(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("git runs")
}

fn with_credentials(url: &str, user: &str, password: &str) -> String {
    url.replacen("://", &format!("://{user}:{password}@"), 1)
}

#[test]
fn http_basic_auth_push_and_clone() {
    let server = GitServer::start().expect("server starts");
    let repo = server.create_repo("app").expect("repo");
    let commit = repo
        .commit(&[("a.txt", b"hello")], "first")
        .expect("commit");
    repo.push().expect("push over HTTP");

    let out = git(
        &[
            "ls-remote",
            &with_credentials(&server.http_url("app"), HTTP_USER, HTTP_PASSWORD),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains(&format!("{commit}\trefs/heads/main")),
        "{listing}"
    );

    let wrong = git(
        &[
            "ls-remote",
            &with_credentials(&server.http_url("app"), HTTP_USER, "nope"),
        ],
        &[],
    );
    assert!(!wrong.status.success(), "a wrong password must be refused");
}

#[test]
fn http_bearer_token_is_accepted() {
    let server = GitServer::start().expect("server starts");
    let repo = server.create_repo("app").expect("repo");
    repo.commit(&[("a.txt", b"x")], "first").expect("commit");
    repo.push().expect("push");
    let header = format!("http.extraHeader=Authorization: Bearer {BEARER_TOKEN}");
    let out = git(&["-c", &header, "ls-remote", &server.http_url("app")], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn https_is_trusted_only_with_the_ca() {
    let server = GitServer::start().expect("server starts");
    let repo = server.create_repo("app").expect("repo");
    repo.commit(&[("a.txt", b"x")], "first").expect("commit");
    repo.push().expect("push");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, server.ca_pem()).expect("write ca");
    let url = with_credentials(&server.https_url("app"), HTTP_USER, HTTP_PASSWORD);
    let ok = git(
        &["ls-remote", &url],
        &[("GIT_SSL_CAINFO", ca.to_str().expect("utf-8"))],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let untrusted = git(&["ls-remote", &url], &[]);
    assert!(
        !untrusted.status.success(),
        "without the CA the certificate must be refused"
    );
}

#[test]
fn ssh_with_key_and_known_hosts() {
    let server = GitServer::start().expect("server starts");
    let repo = server.create_repo("app").expect("repo");
    let commit = repo.commit(&[("a.txt", b"x")], "first").expect("commit");
    repo.push().expect("push");
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("id");
    std::fs::write(&key, server.ssh_identity().expect("identity")).expect("write key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let known = dir.path().join("known_hosts");
    std::fs::write(&known, server.known_hosts()).expect("write known_hosts");
    let ssh = format!(
        "ssh -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes",
        key.display(),
        known.display()
    );
    let out = git(
        &["ls-remote", &server.ssh_url("app")],
        &[("GIT_SSH_COMMAND", &ssh)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&commit));

    std::fs::write(&known, server.wrong_known_hosts().expect("wrong")).expect("write");
    let out = git(
        &["ls-remote", &server.ssh_url("app")],
        &[("GIT_SSH_COMMAND", &ssh)],
    );
    assert!(
        !out.status.success(),
        "a host key not in known_hosts must be refused"
    );
}

#[test]
fn signed_tags_and_commits_verify_with_gpg() {
    let server = GitServer::start().expect("server starts");
    server.require_gpg().expect("gpg");
    let repo = server.create_repo("app").expect("repo");
    repo.commit_signed(&[("a.txt", b"x")], "signed", Signer::Trusted)
        .expect("signed commit");
    repo.tag_signed("v1.0.0", "release", Signer::Trusted)
        .expect("signed tag");
    let show = repo.git(&["cat-file", "commit", "HEAD"]).expect("cat-file");
    assert!(
        show.contains("gpgsig -----BEGIN PGP SIGNATURE-----"),
        "{show}"
    );
    repo.git(&["verify-tag", "v1.0.0"]).expect("tag verifies");
    assert!(
        server
            .trusted_gpg_public_key()
            .expect("export")
            .contains("BEGIN PGP PUBLIC KEY")
    );
}
