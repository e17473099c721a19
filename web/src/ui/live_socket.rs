//! The page's end of `/live`: a WebSocket whose text frames go into the feed's inbox,
//! which the frame loop drains at its own pace (`model/feed.rs`).

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::model::feed::{Inbox, LiveState};

/// An open `/live` socket and its callbacks, closed when dropped.
pub struct LiveSocket {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl std::fmt::Debug for LiveSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSocket")
            .field("url", &self.socket.url())
            .finish()
    }
}

impl LiveSocket {
    /// Opens `url`; lines and state changes land in `inbox`.
    pub fn open(url: &str, inbox: Rc<RefCell<Inbox>>) -> Result<LiveSocket, String> {
        let socket = WebSocket::new(url).map_err(|_| format!("cannot open {url}"))?;
        let on_open = {
            let inbox = inbox.clone();
            Closure::<dyn FnMut()>::new(move || inbox.borrow_mut().state = LiveState::Attached)
        };
        let on_message = {
            let inbox = inbox.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                if let Some(text) = e.data().as_string() {
                    inbox.borrow_mut().push(text);
                }
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            let mut inbox = inbox.borrow_mut();
            let why = match inbox.state {
                // A socket that never opened was refused: not served by brokerlab serve,
                // or by one that wants a token (403) the page's address did not carry.
                LiveState::Connecting => "the server refused the live view (open the page \
                    from brokerlab serve, on loopback or with ?token=... when it has \
                    --events-token)"
                    .to_owned(),
                _ => format!("the live view closed (code {})", e.code()),
            };
            inbox.state = LiveState::Closed(why);
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(LiveSocket {
            socket,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }
}

impl Drop for LiveSocket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}
