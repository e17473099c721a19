//! The transports of virtual devices while the page is attached to a server: one
//! WebSocket to the server's `/mqtt` (subprotocol `mqtt`) per device, driven by
//! broker-wasm's sans-IO `Remote`. The sockets' callbacks only queue what happened; the
//! frame loop hands it to `Remote` and carries out what it asks.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use broker_wasm::remote::{Remote, RemoteOutput};
use broker_wasm::{Action, DeviceId, DeviceView};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, MessageEvent, WebSocket};

use super::dom;

/// What a device's socket did.
enum SocketEvent {
    Opened(DeviceId),
    Bytes(DeviceId, Vec<u8>),
    Closed(DeviceId),
}

/// One device's socket and its callbacks, closed when dropped.
struct DeviceSocket {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut()>,
}

impl Drop for DeviceSocket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

/// Virtual devices connected to the server that served the page.
#[derive(Default)]
pub struct DeviceSockets {
    remote: Remote,
    sockets: BTreeMap<DeviceId, DeviceSocket>,
    events: Rc<RefCell<VecDeque<SocketEvent>>>,
}

impl DeviceSockets {
    /// Applies a learner's action to the devices, and opens, writes or closes sockets as
    /// it asks.
    pub fn apply(&mut self, action: Action) -> Result<(), String> {
        let result = self
            .remote
            .apply(dom::now_ms() as u64, action)
            .map_err(|e| e.to_string());
        self.pump();
        result
    }

    /// How many devices were spawned.
    pub fn device_count(&self) -> usize {
        self.remote.device_count()
    }

    /// Hands what the sockets did to the devices, runs their timers, and returns the
    /// views of the devices that changed.
    pub fn frame(&mut self) -> Vec<(DeviceId, Rc<DeviceView>)> {
        let now = dom::now_ms() as u64;
        let events: Vec<SocketEvent> = self.events.borrow_mut().drain(..).collect();
        for event in events {
            match event {
                SocketEvent::Opened(d) => self.remote.handle_opened(now, d),
                SocketEvent::Bytes(d, bytes) => self.remote.handle_bytes(now, d, &bytes),
                SocketEvent::Closed(d) => {
                    self.sockets.remove(&d);
                    self.remote.handle_closed(d);
                }
            }
        }
        self.remote.handle_timeout(now);
        self.pump();
        self.remote
            .poll_changed_devices()
            .into_iter()
            .filter_map(|id| self.remote.device(id).map(|v| (id, Rc::new(v))))
            .collect()
    }

    /// Carries out what the devices asked of their sockets.
    fn pump(&mut self) {
        while let Some(output) = self.remote.poll_output() {
            match output {
                RemoteOutput::Open(d) => match self.open(d) {
                    Ok(socket) => {
                        self.sockets.insert(d, socket);
                    }
                    Err(_) => self.remote.handle_closed(d),
                },
                RemoteOutput::Send(d, bytes) => {
                    if let Some(s) = self.sockets.get(&d) {
                        // A failed send means the socket is closing; its close event
                        // tells the device.
                        let _ = s.socket.send_with_u8_array(&bytes);
                    }
                }
                RemoteOutput::Close(d) => {
                    self.sockets.remove(&d);
                }
            }
        }
    }

    fn open(&self, device: DeviceId) -> Result<DeviceSocket, ()> {
        let url = dom::server_url("/mqtt", true).ok_or(())?;
        // `/mqtt` takes no token: strip the page's, which only the watchers need.
        let url = url.split('?').next().unwrap_or_default().to_owned();
        let socket = WebSocket::new_with_str(&url, "mqtt").map_err(|_| ())?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let on_open = {
            let events = self.events.clone();
            Closure::<dyn FnMut()>::new(move || {
                events.borrow_mut().push_back(SocketEvent::Opened(device));
            })
        };
        let on_message = {
            let events = self.events.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let bytes = js_sys::Uint8Array::new(&e.data()).to_vec();
                events
                    .borrow_mut()
                    .push_back(SocketEvent::Bytes(device, bytes));
            })
        };
        let on_close = {
            let events = self.events.clone();
            Closure::<dyn FnMut()>::new(move || {
                events.borrow_mut().push_back(SocketEvent::Closed(device));
            })
        };
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(DeviceSocket {
            socket,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }
}
