//! Bodies in motion: the client's request body handed to the upstream client through a
//! small bounded channel (back-pressure, never the whole body in memory), and the
//! upstream's response body as a stream of chunks.

use std::fmt::Display;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use tokio::sync::{mpsc, watch};

/// How many chunks may wait between the client and the upstream connection.
const CHANNEL_CHUNKS: usize = 4;

/// The body of an upstream request: nothing, or the chunks a feeder sends.
#[derive(Debug)]
pub(crate) struct UpstreamBody {
    chunks: Option<mpsc::Receiver<io::Result<Bytes>>>,
}

impl UpstreamBody {
    pub(crate) fn empty() -> UpstreamBody {
        UpstreamBody { chunks: None }
    }

    /// A body fed through the returned sender (see [`feed`]).
    pub(crate) fn channel() -> (mpsc::Sender<io::Result<Bytes>>, UpstreamBody) {
        let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
        (
            sender,
            UpstreamBody {
                chunks: Some(receiver),
            },
        )
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let Some(chunks) = this.chunks.as_mut() else {
            return Poll::Ready(None);
        };
        match chunks.poll_recv(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err))),
            Poll::Ready(None) => {
                this.chunks = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.chunks {
            None => SizeHint::with_exact(0),
            Some(_) => SizeHint::default(),
        }
    }
}

/// Copies the client's body into an [`UpstreamBody::channel`] sender, waiting whenever the
/// upstream is slower than the client. Stops early when the upstream request is gone.
/// Each chunk handed over is reported on `progress`; dropping it says the body is done.
pub(crate) async fn feed<S, E>(
    source: S,
    sender: mpsc::Sender<io::Result<Bytes>>,
    progress: watch::Sender<()>,
) where
    S: Stream<Item = Result<Bytes, E>>,
    E: Display,
{
    let mut source = pin!(source);
    while let Some(chunk) = source.next().await {
        let failed = chunk.is_err();
        let chunk = chunk.map_err(|err| io::Error::other(format!("client body: {err}")));
        if sender.send(chunk).await.is_err() || failed {
            return;
        }
        progress.send_replace(());
    }
}

/// The data frames of an upstream response body (trailers are dropped: they are
/// hop-by-hop unless the client asked for them with `TE: trailers`, which is not relayed).
#[derive(Debug)]
pub(crate) struct ResponseChunks(Incoming);

impl ResponseChunks {
    pub(crate) fn new(body: Incoming) -> ResponseChunks {
        ResponseChunks(body)
    }
}

impl Stream for ResponseChunks {
    type Item = Result<Bytes, hyper::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let body = &mut self.get_mut().0;
        loop {
            return match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) if data.is_empty() => continue,
                    Ok(data) => Poll::Ready(Some(Ok(data))),
                    Err(_trailers) => continue,
                },
                Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}
