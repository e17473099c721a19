//! The simulator's web bundle, compiled into the binary by `build.rs` when
//! `cargo xtask dist` built it, and the routes that serve it.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One file of the bundle.
pub struct File {
    /// Its name, which is also its path under `/`.
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundle.rs"));

/// The page served at `/` when the build embedded no bundle.
const PLACEHOLDER: &str = include_str!("index.html");

/// Routes for `/` and each file of the bundle.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route("/", get(index));
    for file in FILES {
        router = router.route(
            &format!("/{}", file.name),
            get(move || async move { serve(file) }),
        );
    }
    router
}

async fn index() -> Response {
    match FILES.iter().find(|f| f.name == "index.html") {
        Some(file) => serve(file),
        None => Html(PLACEHOLDER).into_response(),
    }
}

fn serve(file: &'static File) -> Response {
    ([(header::CONTENT_TYPE, file.content_type)], file.bytes).into_response()
}
