//! Renders a chart and prints the Secret Helm would store for the release, in Helm's storage
//! format: `cargo run -p driftless-helm --example release_secret -- CHART [NAME] [NAMESPACE]`.
//! (Used to check that Helm's own driver reads our records: see tests/fixtures/relgen.)

use driftless_helm::release::{self, Info, Release};
use driftless_helm::{TemplateOptions, UserValues, load, template};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let chart_path = args
        .next()
        .ok_or("usage: release_secret CHART [NAME] [NAMESPACE]")?;
    let name = args.next().unwrap_or_else(|| "demo".into());
    let namespace = args.next().unwrap_or_else(|| "default".into());
    let chart = load(std::path::Path::new(&chart_path))?;
    let values = UserValues::default();
    let opts = TemplateOptions {
        release_name: name.clone(),
        namespace: namespace.clone(),
        ..Default::default()
    };
    let rendered = template(chart, &values, &opts)?;
    let rel = Release {
        name,
        namespace: namespace.clone(),
        version: 1,
        info: Some(Info {
            status: "deployed".into(),
            description: "Install complete".into(),
            notes: rendered.notes.clone(),
            ..Default::default()
        }),
        manifest: rendered.manifest(),
        config: values.0,
        ..Default::default()
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&release::to_secret(&rel, &namespace)?)?
    );
    Ok(())
}
