//! RBAC and impersonation are real: a controller acting as a tenant's service account gets
//! exactly what that account is granted.

use std::time::Duration;

use driftless_e2e::{TestEnv, wait};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::PostParams;

fn forbidden<T>(result: Result<&T, &kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(s)) if s.code == 403)
}

#[tokio::test]
async fn a_service_account_without_rbac_is_refused_until_granted() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("rbac").await?;
    let sa: ServiceAccount = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "tenant" }
    }))?;
    Api::<ServiceAccount>::namespaced(env.client(), ns.name())
        .create(&PostParams::default(), &sa)
        .await?;

    let user = format!("system:serviceaccount:{}:tenant", ns.name());
    let tenant = env.impersonating(&user, &[]).await?;
    let as_tenant: Api<ConfigMap> = Api::namespaced(tenant, ns.name());
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "made-by-tenant" }
    }))?;

    let list = as_tenant.list(&Default::default()).await;
    assert!(forbidden(list.as_ref()), "list as {user}: {list:?}");
    let create = as_tenant.create(&PostParams::default(), &cm).await;
    assert!(forbidden(create.as_ref()), "create as {user}: {create:?}");

    // Granting read access lets the same impersonated requests list, and only list: the 403s
    // above were RBAC's answer, not a broken impersonation.
    let role: Role = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "read-configmaps" },
        "rules": [{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"] }],
    }))?;
    Api::<Role>::namespaced(env.client(), ns.name())
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "tenant-reads" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-configmaps" },
        "subjects": [{ "kind": "ServiceAccount", "name": "tenant", "namespace": ns.name() }],
    }))?;
    Api::<RoleBinding>::namespaced(env.client(), ns.name())
        .create(&PostParams::default(), &binding)
        .await?;
    wait::until(
        Duration::from_secs(30),
        "the RoleBinding to take effect",
        || async {
            Ok(match as_tenant.list(&Default::default()).await {
                Ok(list) => Ok(list),
                Err(e) => Err(e.to_string()),
            })
        },
    )
    .await?;
    let create = as_tenant.create(&PostParams::default(), &cm).await;
    assert!(
        forbidden(create.as_ref()),
        "create as {user} after a read grant: {create:?}"
    );
    Ok(())
}
