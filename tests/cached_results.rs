//! What `#[cached]` stores: `Ok` only for `Result`s, every value otherwise (`None` too),
//! and only what the `condition` accepts; `result`/`option` override the detection.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cached_core::{cache, cached};

#[derive(Debug, Clone, PartialEq)]
struct NotFound;

static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300)]
async fn find_user(id: u32) -> Result<String, NotFound> {
    LOOKUPS.fetch_add(1, SeqCst);
    if id == 0 {
        Err(NotFound)
    } else {
        Ok(format!("user-{id}"))
    }
}

#[tokio::test]
async fn ok_is_cached_and_err_is_not() {
    assert_eq!(find_user(1).await, Ok("user-1".into()));
    assert_eq!(find_user(1).await, Ok("user-1".into()));
    assert_eq!(LOOKUPS.load(SeqCst), 1);
    let stored: Option<String> = cache().get("find_user:id=1").await.unwrap();
    assert_eq!(
        stored.as_deref(),
        Some("user-1"),
        "the Ok value itself is stored"
    );

    assert_eq!(find_user(0).await, Err(NotFound));
    assert_eq!(find_user(0).await, Err(NotFound));
    assert_eq!(LOOKUPS.load(SeqCst), 3);
    assert!(!cache().exists("find_user:id=0").await.unwrap());
}

static IO_READS: AtomicUsize = AtomicUsize::new(0);

/// `std::io::Error` is neither `Clone` nor `Serialize`: it still compiles.
#[cached(ttl = 300)]
async fn read_config(name: &str) -> std::io::Result<String> {
    IO_READS.fetch_add(1, SeqCst);
    match name {
        "missing" => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "missing")),
        _ => Ok(format!("[{name}]")),
    }
}

#[tokio::test]
async fn io_results_cache_ok_only() {
    read_config("app").await.unwrap();
    read_config("app").await.unwrap();
    assert!(read_config("missing").await.is_err());
    assert!(read_config("missing").await.is_err());
    assert_eq!(IO_READS.load(SeqCst), 3);
}

static OPTION_LOOKUPS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300)]
async fn find_email(user: &str) -> Option<String> {
    OPTION_LOOKUPS.fetch_add(1, SeqCst);
    (user != "ghost").then(|| format!("{user}@example.com"))
}

#[tokio::test]
async fn none_is_a_cached_negative_answer() {
    assert_eq!(find_email("ghost").await, None);
    assert_eq!(find_email("ghost").await, None);
    assert_eq!(OPTION_LOOKUPS.load(SeqCst), 1);
    assert!(cache().exists("find_email:user=ghost").await.unwrap());
    find_email("ada").await;
    find_email("ada").await;
    assert_eq!(OPTION_LOOKUPS.load(SeqCst), 2);
}

static SEARCHES: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300, condition = |result: &Vec<String>| !result.is_empty())]
async fn search_posts(query: &str) -> Vec<String> {
    SEARCHES.fetch_add(1, SeqCst);
    if query == "nothing" {
        vec![]
    } else {
        vec![format!("post about {query}")]
    }
}

#[tokio::test]
async fn the_condition_decides_what_is_stored() {
    assert!(search_posts("nothing").await.is_empty());
    assert!(search_posts("nothing").await.is_empty());
    assert_eq!(SEARCHES.load(SeqCst), 2, "empty results are not cached");
    assert!(!cache().exists("search_posts:query=nothing").await.unwrap());

    search_posts("rust").await;
    search_posts("rust").await;
    assert_eq!(SEARCHES.load(SeqCst), 3);
}

fn is_some(value: &Option<u32>) -> bool {
    value.is_some()
}

static PATH_CONDITION_CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300, condition = is_some)]
async fn maybe_score(user: u32) -> Option<u32> {
    PATH_CONDITION_CALLS.fetch_add(1, SeqCst);
    user.is_multiple_of(2).then_some(user * 10)
}

#[tokio::test]
async fn a_condition_can_be_a_path() {
    maybe_score(1).await;
    maybe_score(1).await;
    maybe_score(2).await;
    maybe_score(2).await;
    assert_eq!(PATH_CONDITION_CALLS.load(SeqCst), 3);
}

static RESULT_CONDITION_CALLS: AtomicUsize = AtomicUsize::new(0);

/// For a `Result` the condition sees the `Ok` value.
#[cached(ttl = 300, condition = |n: &u32| *n > 10)]
async fn checked(n: u32) -> Result<u32, String> {
    RESULT_CONDITION_CALLS.fetch_add(1, SeqCst);
    Ok(n)
}

#[tokio::test]
async fn a_result_condition_sees_the_ok_value() {
    checked(5).await.unwrap();
    checked(5).await.unwrap();
    checked(50).await.unwrap();
    checked(50).await.unwrap();
    assert_eq!(RESULT_CONDITION_CALLS.load(SeqCst), 3);
}

type AppResult<T> = Result<T, NotFound>;

static ALIAS_CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300, result)]
async fn through_alias(id: u32) -> AppResult<u32> {
    ALIAS_CALLS.fetch_add(1, SeqCst);
    if id == 0 { Err(NotFound) } else { Ok(id) }
}

#[tokio::test]
async fn result_override_caches_ok_only_through_an_alias() {
    through_alias(3).await.unwrap();
    through_alias(3).await.unwrap();
    through_alias(0).await.unwrap_err();
    through_alias(0).await.unwrap_err();
    assert_eq!(ALIAS_CALLS.load(SeqCst), 3);
    let stored: Option<u32> = cache().get("through_alias:id=3").await.unwrap();
    assert_eq!(stored, Some(3));
}

mod domain {
    /// A domain type that happens to be named `Result`.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    pub(crate) enum Result<T> {
        Passed(T),
        Failed(T),
    }
}

static VERDICTS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300, option)]
async fn verdict(score: u32) -> domain::Result<u32> {
    VERDICTS.fetch_add(1, SeqCst);
    if score >= 50 {
        domain::Result::Passed(score)
    } else {
        domain::Result::Failed(score)
    }
}

#[tokio::test]
async fn option_override_caches_every_value_as_returned() {
    assert_eq!(verdict(10).await, domain::Result::Failed(10));
    assert_eq!(verdict(10).await, domain::Result::Failed(10));
    assert_eq!(verdict(90).await, domain::Result::Passed(90));
    assert_eq!(VERDICTS.load(SeqCst), 2);
    let stored: Option<domain::Result<u32>> = cache().get("verdict:score=10").await.unwrap();
    assert_eq!(stored, Some(domain::Result::Failed(10)));
}
