//! `&self` and `&mut self` methods in impl blocks (generic ones too) and in trait impls.

use cached_core::{cached, invalidates};

struct Repository {
    tenant: String,
}

impl Repository {
    #[cached(ttl = 60)]
    async fn find(&self, id: u32) -> Option<String> {
        Some(format!("{}:{id}", self.tenant))
    }

    #[cached(ttl = 60, key = "{self.tenant}:count")]
    async fn count(&mut self) -> u64 {
        self.tenant.len() as u64
    }

    #[cached(ttl = 60)]
    async fn associated(id: u32) -> u32 {
        id
    }

    #[invalidates("{self.tenant}:count")]
    async fn add(&mut self, name: &str) {
        self.tenant.push_str(name);
    }
}

struct Typed<T> {
    items: Vec<T>,
}

impl<T: Clone + Send + Sync + 'static> Typed<T> {
    #[cached(ttl = 60)]
    async fn len(&self, filter: u8) -> usize {
        let _ = filter;
        self.items.len()
    }
}

trait Store {
    async fn load(&self, id: u64) -> Result<String, std::io::Error>;
    async fn save(&mut self, id: u64, value: String) -> Result<(), std::io::Error>;
}

struct Files;

impl Store for Files {
    #[cached(ttl = 60, companion = false)]
    async fn load(&self, id: u64) -> Result<String, std::io::Error> {
        Ok(id.to_string())
    }

    #[invalidates("load:id={id}")]
    async fn save(&mut self, id: u64, value: String) -> Result<(), std::io::Error> {
        let _ = (id, value);
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut repo = Repository { tenant: "acme".into() };
    repo.find(1).await;
    repo.count().await;
    repo.add("x").await;
    Repository::associated(1).await;
    let _ = Repository::find_cache_key(&1);
    let _ = repo.count_cache_key();
    Typed { items: vec![1] }.len(0).await;
    let mut files = Files;
    files.load(1).await.unwrap();
    files.save(1, "x".into()).await.unwrap();
}
