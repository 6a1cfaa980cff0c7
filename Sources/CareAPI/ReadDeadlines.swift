import Hummingbird
import HummingbirdCore
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// How long a client may take to send a request, and to keep a connection idle.
public struct HTTPTimeouts: Sendable {
    /// From the connection's start (or the end of the last answer) to a request's complete head:
    /// a client that trickles its headers (slow loris) is cut off here.
    public var head: Duration
    /// From a request's head to the end of its body.
    public var body: Duration

    public init(head: Duration = .seconds(30), body: Duration = .seconds(60)) {
        self.head = head
        self.body = body
    }
}

/// Closes a connection whose request head, or body, does not arrive by its deadline. Sits after
/// HTTP decoding: it sees a head only once it is complete, so the head deadline covers headers
/// sent a byte at a time as well as a connection held open without a request.
final class ReadDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let timeouts: HTTPTimeouts
    private var deadline: Scheduled<Void>?

    init(timeouts: HTTPTimeouts) {
        self.timeouts = timeouts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, timeouts.head) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, timeouts.head)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, timeouts.body)
        case .body: break
        case .end: disarm()  // the answer is on its way
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, timeouts.head) }  // waiting for the next request
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    private func arm(_ context: ChannelHandlerContext, _ limit: Duration) {
        disarm()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: TimeAmount(limit)) { channel.close(promise: nil) }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}

/// Answers a request whose headers are larger than the decoder takes (80 KiB) with 431 and a
/// problem+json, instead of dropping the connection without a word, then closes it.
final class HeaderLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parser = error as? HTTPParserError, case .headerOverflow = parser else {
            context.fireErrorCaught(error)
            return
        }
        let body = ByteBuffer(
            string:
                #"""
                {"detail":"the request's headers are larger than 80 KiB","status":431,"title":"Request header fields \#
                too large",
                """#
                    + #""type":"https://carerelay.example/problems/headers-too-large"}"#)
        let head = HTTPResponse(
            status: .init(code: 431, reasonPhrase: "Request Header Fields Too Large"),
            headerFields: [
                .contentType: "application/problem+json", .contentLength: String(body.readableBytes),
                .connection: "close",
            ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
