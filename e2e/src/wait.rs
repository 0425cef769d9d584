use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use kube::runtime::wait::await_condition;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// Waits, watching, until object `name` exists and satisfies `condition`; panics with
/// `description` after `timeout`. Returns the object that satisfied it.
pub async fn until_object<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    description: &str,
    condition: impl Fn(&K) -> bool,
) -> K
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
    K::DynamicType: Default,
{
    let waited = tokio::time::timeout(
        timeout,
        await_condition(api.clone(), name, |object: Option<&K>| {
            object.is_some_and(&condition)
        }),
    )
    .await;
    match waited {
        Ok(Ok(Some(object))) => object,
        Ok(Ok(None)) => panic!("{name} vanished while waiting until {description}"),
        Ok(Err(error)) => panic!("watch failed while waiting until {description}: {error}"),
        Err(_) => {
            let last = api.get_opt(name).await.ok().flatten();
            panic!("timed out after {timeout:?} waiting until {description}; last seen: {last:#?}")
        }
    }
}

/// Polls `check` until it yields a value or `timeout` passes, for conditions that span several
/// objects and so cannot be watched as one.
pub async fn until<T, F, Fut>(timeout: Duration, description: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {description}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
