use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use modeldeploy_api::v1alpha1::ModelDeployment;

/// The control plane the tests run against, as named by `KUBECONFIG`.
pub struct Cluster {
    pub config: Config,
    pub client: Client,
    pub kubeconfig: PathBuf,
}

impl Cluster {
    /// Connects to the control plane and makes sure the ModelDeployment CRD from this checkout
    /// is installed and established.
    pub async fn connect() -> Cluster {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info,kube=warn".into()))
            .with_test_writer()
            .try_init();
        let kubeconfig = std::env::var_os("KUBECONFIG").map(PathBuf::from).expect(
            "KUBECONFIG is not set: run the end-to-end tests with `make test` or \
             `e2e/controlplane/run.sh -- cargo test -p modeldeploy-e2e`",
        );
        let config = Config::from_custom_kubeconfig(
            Kubeconfig::read_from(&kubeconfig).expect("readable kubeconfig"),
            &KubeConfigOptions::default(),
        )
        .await
        .expect("usable kubeconfig");
        let client = Client::try_from(config.clone()).expect("client");
        let cluster = Cluster {
            config,
            client,
            kubeconfig,
        };
        cluster.install_crd().await;
        cluster
    }

    async fn install_crd(&self) {
        for plural in [
            "modeldeployments",
            "modelanalysistemplates",
            "clustermodelanalysistemplates",
        ] {
            self.install_one_crd(plural).await;
        }
    }

    async fn install_one_crd(&self, plural: &str) {
        let text =
            std::fs::read_to_string(repo_path(&format!("crds/modeldeploy.io_{plural}.yaml")))
                .unwrap();
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).unwrap();
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let name = format!("{plural}.modeldeploy.io");
        api.patch(
            &name,
            &PatchParams::apply("modeldeploy-e2e").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("the generated CRD is accepted by the API server");
        crate::until_object(
            &api,
            &name,
            Duration::from_secs(30),
            "the CRD is established",
            |crd| {
                crd.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    })
            },
        )
        .await;
    }

    /// A fresh namespace for one test.
    pub async fn namespace(&self, prefix: &str) -> TestNamespace {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!(
            "{prefix}-{}-{:05x}",
            std::process::id() % 100_000,
            (nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed)) & 0xfffff
        );
        let api: Api<Namespace> = Api::all(self.client.clone());
        let namespace = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                labels: Some([("modeldeploy.io/e2e".to_owned(), "true".to_owned())].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        api.create(&PostParams::default(), &namespace)
            .await
            .expect("namespace created");
        TestNamespace {
            name,
            client: self.client.clone(),
        }
    }

    /// Path of a tool built with the control plane (kubectl, helm); from `MODELDEPLOY_BIN`, else `PATH`.
    pub fn tool(&self, name: &str) -> PathBuf {
        std::env::var_os("MODELDEPLOY_BIN")
            .map(|dir| PathBuf::from(dir).join(name))
            .filter(|path| path.exists())
            .unwrap_or_else(|| PathBuf::from(name))
    }
}

/// A namespace that lives for one test.
pub struct TestNamespace {
    pub name: String,
    client: Client,
}

impl std::fmt::Debug for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNamespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

impl TestNamespace {
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace and everything in it.
    pub async fn delete(self) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let _ = api.delete(&self.name, &DeleteParams::default()).await;
    }
}

/// A path inside this repository.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// A sample from `config/samples/`.
pub fn sample(file: &str) -> ModelDeployment {
    let text = std::fs::read_to_string(repo_path(&format!("config/samples/{file}"))).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}
