//! The `source-controller` binary. The GitRepository reconciler is not wired yet; see the
//! crate documentation for what the library provides.

fn main() {
    eprintln!("source-controller: the GitRepository reconciler is not implemented yet");
    std::process::exit(2);
}
