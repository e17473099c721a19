//! The few browser calls the UI makes beyond rendering: the URL fragment, downloading a
//! file, and reading one the learner picked.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, BlobPropertyBag, File, FileReader, HtmlAnchorElement, Url};

/// The page's clock in milliseconds, for measuring frames; 0 where unavailable.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// The URL fragment, with its `#`, or empty.
pub fn fragment() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// The page's full address.
pub fn page_url() -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default()
}

/// Replaces the URL fragment without a new history entry or a reload.
pub fn set_fragment(fragment: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Ok(history) = window.history() {
        // Failing to update the address bar loses nothing but the share link.
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(fragment));
    }
}

/// Offers `text` to the learner as a download named `name`.
pub fn download(name: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = BlobPropertyBag::new();
    options.set_type("application/json");
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let anchor: HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    Url::revoke_object_url(&url)
}

/// Reads a picked file as text and calls `done` with it.
pub fn read_text(file: &File, done: impl FnOnce(Result<String, String>) + 'static) {
    let reader = match FileReader::new() {
        Ok(reader) => reader,
        Err(_) => return done(Err("this browser cannot read files".into())),
    };
    // Reading completes in a later task, so the handler can be attached after it starts;
    // a read that cannot start is reported at once instead.
    if reader.read_as_text(file).is_err() {
        return done(Err("the file cannot be read".into()));
    }
    let on_load = {
        let reader = reader.clone();
        Closure::once(move || {
            let text = reader
                .result()
                .ok()
                .and_then(|v| v.as_string())
                .ok_or_else(|| "the file is not text".to_owned());
            done(text);
        })
    };
    reader.set_onload(Some(on_load.as_ref().unchecked_ref()));
    // The browser calls the handler once, after this function has returned, so the
    // closure must outlive it: one small leak per imported file.
    on_load.forget();
}

/// The value of `name` in the page's query string (`?token=...`), if present.
pub fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The address of `path` on the server that served the page, with the page's `token`
/// (docs/live.md: `/live` and `/recording` need it when the server has --events-token);
/// `ws` or `wss` for WebSocket paths.
pub fn server_url(path: &str, websocket: bool) -> Option<String> {
    let location = web_sys::window()?.location();
    let host = location.host().ok()?;
    let secure = location.protocol().ok()? == "https:";
    let scheme = match (websocket, secure) {
        (true, true) => "wss",
        (true, false) => "ws",
        (false, true) => "https",
        (false, false) => "http",
    };
    let token = query_param("token")
        .map(|t| format!("?token={t}"))
        .unwrap_or_default();
    Some(format!("{scheme}://{host}{path}{token}"))
}

/// Downloads what `url` serves, under the name `name`.
pub fn download_url(url: &str, name: &str) -> Result<(), JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let anchor: HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    anchor.set_href(url);
    anchor.set_download(name);
    anchor.click();
    Ok(())
}
