use cached_core::cache_key;

fn main() {
    let author = "ada";
    let _ = cache_key!("posts:author:{auther}");
    let _ = cache_key!(author);
    let _ = cache_key!("posts:{author");
    let _ = author;
}
