// Package xiaodian connects to a xiaodian server and reads the details of its errors.
//
// The generated stubs are in xiaodian.dev/clients/go/xiaodianv1; this package adds only what
// every caller needs around them:
//
//	conn, err := xiaodian.Dial("127.0.0.1:50051", "") // token "" means $XIAODIAN_TOKEN
//	if err != nil { ... }
//	defer conn.Close()
//	resp, err := xiaodianv1.NewSearchServiceClient(conn).Search(ctx, &xiaodianv1.SearchRequest{Query: "手机壳"})
//	for _, v := range xiaodian.FieldViolations(err) {
//		fmt.Println(v.GetField(), v.GetDescription())
//	}
//
// A failed call's error carries a google.rpc.Status: its code, a message, one ErrorInfo
// (domain "xiaodian", a reason in UPPER_SNAKE_CASE), BadRequest field violations when the
// request was invalid, and RetryInfo when the server is Unavailable and says when to try again.
// FieldViolations, ErrorInfo and RetryDelay read them.
package xiaodian

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// TokenEnv is the environment variable Dial takes the bearer token from when it is given none.
const TokenEnv = "XIAODIAN_TOKEN"

// MaxMessageBytes bounds a message sent or received through a connection made by Dial. It
// matches the server's default [server] max_message_bytes; gRPC's own default of 4 MiB is
// too small for large batches.
const MaxMessageBytes = 64 << 20

// Dial returns a client connection to the xiaodian server at address ("host:port").
//
// token is sent with every call as "authorization: Bearer <token>"; when it is empty the
// value of $XIAODIAN_TOKEN is used, and when that is empty too no token is sent (the server
// then answers Unauthenticated to the calls that need one).
//
// The connection is plaintext when the host is a loopback address (localhost, 127.0.0.0/8,
// ::1, a unix socket) and TLS with the system's root certificates otherwise. opts are applied
// after these defaults: grpc.WithTransportCredentials(credentials.NewTLS(cfg)) replaces the TLS
// setup (a private CA, a client certificate for mTLS), and
// grpc.WithTransportCredentials(insecure.NewCredentials()) makes a plaintext connection to
// another host (a container, a private network: the token then travels in clear text).
// Interceptors and other options can be added the same way.
//
// Like grpc.NewClient, Dial does not connect: an unreachable server shows as an Unavailable
// error from the first call. Close the connection when done.
func Dial(address string, token string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if token == "" {
		token = strings.TrimSpace(os.Getenv(TokenEnv))
	}
	transport := insecure.NewCredentials()
	if !isLoopback(address) {
		transport = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	all := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
	}
	if token != "" {
		all = append(all, grpc.WithPerRPCCredentials(bearer(token)))
	}
	return grpc.NewClient(address, append(all, opts...)...)
}

// bearer sends "authorization: Bearer <token>" with every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false so that a caller's explicit choice of a plaintext
// connection (see Dial) is honoured; Dial itself uses TLS for every host but this machine.
func (b bearer) RequireTransportSecurity() bool { return false }

// isLoopback reports whether address ("host:port", "[::1]:port", a "dns:///" or
// "passthrough:///" target, or a "unix:" socket) names this machine.
func isLoopback(address string) bool {
	if strings.HasPrefix(address, "unix:") || strings.HasPrefix(address, "unix-abstract:") {
		return true
	}
	for _, scheme := range []string{"dns:///", "passthrough:///"} {
		address = strings.TrimPrefix(address, scheme)
	}
	host := address
	if h, _, err := net.SplitHostPort(address); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
