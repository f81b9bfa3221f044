package xiaodian

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestIsLoopback(t *testing.T) {
	for address, want := range map[string]bool{
		"127.0.0.1:50051": true, "127.3.2.1:1": true, "localhost:50051": true, "LOCALHOST:1": true,
		"[::1]:50051": true, "dns:///localhost:50051": true, "unix:///tmp/x.sock": true,
		"xiaodian.example.com:443": false, "10.0.0.1:50051": false, "[2001:db8::1]:443": false,
		"localhost.example.com:443": false,
	} {
		if got := isLoopback(address); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", address, got, want)
		}
	}
}

// serve starts a health server on loopback that records the authorization header it gets.
func serve(t *testing.T) (string, chan []string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan []string, 1)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		seen <- md.Get("authorization")
		return handler(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), seen
}

func check(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestDialSendsTheBearerToken(t *testing.T) {
	addr, seen := serve(t)
	t.Setenv(TokenEnv, "from-env")
	for token, want := range map[string]string{"given": "Bearer given", "": "Bearer from-env"} {
		conn, err := Dial(addr, token)
		if err != nil {
			t.Fatal(err)
		}
		check(t, conn)
		conn.Close()
		if got := <-seen; len(got) != 1 || got[0] != want {
			t.Errorf("Dial(token %q): authorization %q, want %q", token, got, want)
		}
	}
	t.Setenv(TokenEnv, "")
	conn, err := Dial(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	check(t, conn)
	if got := <-seen; len(got) != 0 {
		t.Errorf("no token: authorization %q, want none", got)
	}
}

func TestDetails(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "invalid argument: page_size: must be 1-100").WithDetails(
		&errdetails.ErrorInfo{Reason: "INVALID_ARGUMENT", Domain: "xiaodian"},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "page_size", Description: "must be 1-100"},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	bad := st.Err()
	if v := FieldViolations(bad); len(v) != 1 || v[0].GetField() != "page_size" {
		t.Errorf("FieldViolations = %v", v)
	}
	if info := ErrorInfo(bad); info.GetReason() != "INVALID_ARGUMENT" || info.GetDomain() != "xiaodian" {
		t.Errorf("ErrorInfo = %v", info)
	}
	if _, ok := RetryDelay(bad); ok {
		t.Error("RetryDelay: found one in a BadRequest error")
	}

	st, _ = status.New(codes.Unavailable, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
	if d, ok := RetryDelay(st.Err()); !ok || d != 1500*time.Millisecond {
		t.Errorf("RetryDelay = %v, %v", d, ok)
	}
	for _, err := range []error{nil, context.Canceled, status.Error(codes.NotFound, "no")} {
		if FieldViolations(err) != nil || ErrorInfo(err) != nil {
			t.Errorf("details of %v: want none", err)
		}
		if _, ok := RetryDelay(err); ok {
			t.Errorf("RetryDelay(%v): want none", err)
		}
	}
}
