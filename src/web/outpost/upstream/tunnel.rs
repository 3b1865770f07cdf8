//! The WebSocket tunnel after a `101 Switching Protocols`: bytes copied both ways,
//! untouched, until either side closes.

use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use hyper::body::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::task::JoinHandle;

const READ_BUFFER: usize = 16 * 1024;

/// Client to upstream: writes every chunk the client sends, then closes the upstream's
/// write side so it sees the client's end.
pub(crate) async fn pump<S, E, W>(source: S, mut sink: W)
where
    S: Stream<Item = Result<Bytes, E>>,
    W: AsyncWrite + Unpin,
{
    let mut source = pin!(source);
    while let Some(Ok(chunk)) = source.next().await {
        if sink.write_all(&chunk).await.is_err() {
            return;
        }
    }
    // The peer may be gone already; there is nobody left to tell.
    let _ = sink.shutdown().await;
}

/// Upstream to client: what the upstream sends, as a stream of chunks. When it ends (or
/// the client goes away and drops it) the client-to-upstream pump is stopped too.
#[derive(Debug)]
pub(crate) struct TunnelReader<R> {
    reader: R,
    buffer: Vec<u8>,
    done: bool,
    pump: Option<JoinHandle<()>>,
}

impl<R> TunnelReader<R> {
    pub(crate) fn new(reader: R, pump: JoinHandle<()>) -> TunnelReader<R> {
        TunnelReader {
            reader,
            buffer: vec![0; READ_BUFFER],
            done: false,
            pump: Some(pump),
        }
    }

    fn finish(&mut self) {
        self.done = true;
        if let Some(pump) = self.pump.take() {
            pump.abort();
        }
    }
}

impl<R> Drop for TunnelReader<R> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<R: AsyncRead + Unpin> Stream for TunnelReader<R> {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let mut buffer = ReadBuf::new(&mut this.buffer);
        let read = match Pin::new(&mut this.reader).poll_read(cx, &mut buffer) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(())) if buffer.filled().is_empty() => None,
            Poll::Ready(Ok(())) => Some(Ok(Bytes::copy_from_slice(buffer.filled()))),
            Poll::Ready(Err(err)) => Some(Err(err)),
        };
        if !matches!(read, Some(Ok(_))) {
            this.finish();
        }
        Poll::Ready(read)
    }
}
