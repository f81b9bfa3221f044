// End-to-end test of the generated Go client against a running xiaodian server.
// Run by the Python test suite (tests/platform/test_go_client.py), which starts the server and
// sets XIAODIAN_ADDR; without it the tests skip. The bearer token comes from XIAODIAN_TOKEN, else
// from the admin.token file the server created in its data directory (XIAODIAN_SERVER_DATA_DIR,
// else ./xiaodian-data).
package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"xiaodian.dev/clients/go/xiaodian"
	pb "xiaodian.dev/clients/go/xiaodianv1"
)

// token finds the caller's token as xiaodian's own tools do.
func token(t *testing.T) string {
	t.Helper()
	if tok := strings.TrimSpace(os.Getenv("XIAODIAN_TOKEN")); tok != "" {
		return tok
	}
	dir := os.Getenv("XIAODIAN_SERVER_DATA_DIR")
	if dir == "" {
		dir = "xiaodian-data"
	}
	data, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatalf("no token: set XIAODIAN_TOKEN or XIAODIAN_SERVER_DATA_DIR (%v)", err)
	}
	return strings.TrimSpace(string(data))
}

func dial(t *testing.T) (*grpc.ClientConn, context.Context) {
	t.Helper()
	addr := os.Getenv("XIAODIAN_ADDR")
	if addr == "" {
		t.Skip("XIAODIAN_ADDR is not set (host:port of a running xiaodian server)")
	}
	conn, err := xiaodian.Dial(addr, token(t))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(func() { cancel(); conn.Close() })
	return conn, ctx
}

func TestHealth(t *testing.T) {
	conn, ctx := dial(t)
	client := healthpb.NewHealthClient(conn)
	for _, service := range []string{"", "xiaodian.v1.SearchService", "xiaodian.v1.CreatorService", "xiaodian.v1.SettlementService"} {
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Check(%q): %v", service, err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q) = %v, want SERVING", service, resp.GetStatus())
		}
	}
}

func getDefault(t *testing.T, ctx context.Context, client pb.SearchServiceClient) *pb.RankingProfile {
	t.Helper()
	resp, err := client.GetRankingProfile(ctx, &pb.GetRankingProfileRequest{Name: "default"})
	if err != nil {
		t.Fatalf("GetRankingProfile(default): %v", err)
	}
	return resp.GetProfile()
}

func TestGetDefaultRankingProfile(t *testing.T) {
	conn, ctx := dial(t)
	p := getDefault(t, ctx, pb.NewSearchServiceClient(conn))
	if p.GetName() != "default" || p.GetVersion() < 1 {
		t.Fatalf("got name %q version %d", p.GetName(), p.GetVersion())
	}
	if p.BrandMultiplier == nil || p.Bm25K1 == nil || p.Bm25B == nil || p.RerankDepth == nil ||
		p.DuplicateMaxDistance == nil || p.NewMerchantWindowDays == nil || p.TitleWeight == nil {
		t.Fatalf("optional fields not all set: %v", p)
	}
	if p.GetBrandMultiplier() != 2.0 || p.GetBm25K1() != 1.2 || p.GetBm25B() != 0.75 ||
		p.GetRerankDepth() != 1000 || p.GetDuplicateMaxDistance() != 6 || p.GetNewMerchantWindowDays() != 90 {
		t.Errorf("unexpected defaults: %v", p)
	}
}

func TestUpdateRankingProfileInvalid(t *testing.T) {
	conn, ctx := dial(t)
	client := pb.NewSearchServiceClient(conn)
	before := getDefault(t, ctx, client)
	_, err := client.UpdateRankingProfile(ctx, &pb.UpdateRankingProfileRequest{
		RequestId: fmt.Sprintf("go-e2e-bad-%d", time.Now().UnixNano()),
		Profile:   &pb.RankingProfile{Name: "default", TitleWeight: proto.Float64(-1)},
	})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %v (%v), want InvalidArgument", st.Code(), err)
	}
	var field string
	for _, v := range xiaodian.FieldViolations(err) {
		if v.GetField() == "profile.title_weight" {
			field = v.GetField()
		}
	}
	info := xiaodian.ErrorInfo(err)
	if field != "profile.title_weight" || info.GetDomain() != "xiaodian" || info.GetReason() != "INVALID_ARGUMENT" {
		t.Errorf("details: field violation %q, ErrorInfo %v; got %v", field, info, st.Details())
	}
	if _, ok := xiaodian.RetryDelay(err); ok {
		t.Errorf("RetryInfo on an InvalidArgument error: %v", st.Details())
	}
	after := getDefault(t, ctx, client)
	if after.GetVersion() != before.GetVersion() || after.GetTitleWeight() != before.GetTitleWeight() {
		t.Errorf("profile changed by a rejected update: before %v, after %v", before, after)
	}
}

func TestSearchFieldViolations(t *testing.T) {
	conn, ctx := dial(t)
	_, err := pb.NewSearchServiceClient(conn).Search(ctx, &pb.SearchRequest{
		Query:    "羊绒围巾",
		PageSize: 500,
		Filter:   &pb.SearchFilter{MinPriceFen: proto.Int64(10000), MaxPriceFen: proto.Int64(100)},
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("code = %v (%v), want InvalidArgument", status.Code(err), err)
	}
	got := map[string]string{}
	for _, v := range xiaodian.FieldViolations(err) {
		got[v.GetField()] = v.GetDescription()
	}
	if len(got) != 2 || got["page_size"] == "" || got["filter.max_price_fen"] == "" {
		t.Errorf("field violations %v, want page_size and filter.max_price_fen", got)
	}
	if reason := xiaodian.ErrorInfo(err).GetReason(); reason != "INVALID_ARGUMENT" {
		t.Errorf("ErrorInfo reason %q", reason)
	}
}

// suggestion finds text among the completions of prefix, asking again for a few seconds: the
// server rebuilds its completions in the background after writes.
func suggestion(t *testing.T, client pb.SearchServiceClient, prefix, text string) *pb.Suggestion {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := client.Suggest(ctx, &pb.SuggestRequest{Prefix: prefix, Limit: 20})
		cancel()
		if err != nil {
			t.Fatalf("Suggest(%q): %v", prefix, err)
		}
		if n := len(resp.GetSuggestions()); n > 20 {
			t.Fatalf("Suggest(%q) answered %d completions, limit 20", prefix, n)
		}
		for _, s := range resp.GetSuggestions() {
			if s.GetText() == text {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Suggest(%q) = %v, want %q among them", prefix, resp.GetSuggestions(), text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSuggest(t *testing.T) {
	conn, ctx := dial(t)
	client := pb.NewSearchServiceClient(conn)
	run := fmt.Sprintf("go-e2e-%d", time.Now().UnixNano())
	shop := &pb.Shop{ShopId: run, Name: "羊绒小店", OpenedAt: timestamppb.New(time.Unix(1_700_000_000, 0))}
	if _, err := client.UpsertShops(ctx, &pb.UpsertShopsRequest{RequestId: run + "-s", Shops: []*pb.Shop{shop}}); err != nil {
		t.Fatalf("UpsertShops: %v", err)
	}
	product := &pb.Product{ProductId: run, ShopId: run, Title: "羊绒围巾 女士 冬季加厚", CategoryId: "c-scarf",
		PriceFen: 5900, Stock: 10, Version: 1}
	if _, err := client.UpsertProducts(ctx, &pb.UpsertProductsRequest{RequestId: run + "-p", Products: []*pb.Product{product}}); err != nil {
		t.Fatalf("UpsertProducts: %v", err)
	}
	for _, c := range []struct {
		prefix string
		match  pb.SuggestionMatch
	}{
		{"羊绒", pb.SuggestionMatch_SUGGESTION_MATCH_TEXT},
		{"yangr", pb.SuggestionMatch_SUGGESTION_MATCH_PINYIN},
		{"yr", pb.SuggestionMatch_SUGGESTION_MATCH_INITIALS},
	} {
		s := suggestion(t, client, c.prefix, "羊绒")
		if s.GetMatchedChars() != 2 || s.GetMatch() != c.match || s.GetSource() != pb.SuggestionSource_SUGGESTION_SOURCE_TITLE ||
			s.GetPopularity() < 1 {
			t.Errorf("Suggest(%q): 羊绒 as %v, want 2 characters matched, %v, a title word", c.prefix, s, c.match)
		}
	}
	for _, c := range []struct {
		request *pb.SuggestRequest
		field   string
	}{
		{&pb.SuggestRequest{Prefix: ""}, "prefix"},
		{&pb.SuggestRequest{Prefix: strings.Repeat("羊", 31)}, "prefix"},
		{&pb.SuggestRequest{Prefix: "羊绒", Limit: 21}, "limit"},
	} {
		_, err := client.Suggest(ctx, c.request)
		violations := xiaodian.FieldViolations(err)
		if status.Code(err) != codes.InvalidArgument || len(violations) != 1 || violations[0].GetField() != c.field {
			t.Errorf("Suggest(%v): code %v, violations %v; want InvalidArgument on %s", c.request, status.Code(err), violations, c.field)
		}
	}
}

func TestGetUnknownProfile(t *testing.T) {
	conn, ctx := dial(t)
	_, err := pb.NewSearchServiceClient(conn).GetRankingProfile(ctx, &pb.GetRankingProfileRequest{Name: "no-such-profile"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("code = %v (%v), want NotFound", status.Code(err), err)
	}
}

func TestScoreCreatorsAndReadTheLeaderboard(t *testing.T) {
	conn, ctx := dial(t)
	client := pb.NewCreatorServiceClient(conn)
	run := fmt.Sprintf("go-e2e-%d", time.Now().UnixNano())
	// A cohort of its own, so the test stands alone on a shared server.
	cohort := "go-" + run[len(run)-8:]
	metrics := []*pb.CreatorMetrics{
		{CreatorId: "go-a", Period: "2025-06", Cohort: cohort, SettledGmvFen: proto.Int64(300),
			Audience: &pb.CreatorMetrics_EffectiveFollowers{EffectiveFollowers: 10},
			Sales:    &pb.CreatorMetrics_SalesScore{SalesScore: 90}},
		{CreatorId: "go-b", Period: "2025-06", Cohort: cohort, SettledGmvFen: proto.Int64(100),
			Audience: &pb.CreatorMetrics_FollowerCounts{FollowerCounts: &pb.FollowerCounts{Followers: 50, RiskFlaggedFollowers: 45}},
			Sales:    &pb.CreatorMetrics_SalesScoreComponents{SalesScoreComponents: &pb.SalesScoreComponents{OrderCount_90D: 3}}},
	}
	if _, err := client.UpsertCreatorMetrics(ctx, &pb.UpsertCreatorMetricsRequest{RequestId: run + "-m", Metrics: metrics}); err != nil {
		t.Fatalf("UpsertCreatorMetrics: %v", err)
	}
	scored, err := client.ScoreCreators(ctx, &pb.ScoreCreatorsRequest{RequestId: run + "-s", Period: "2025-06", Cohort: cohort})
	if err != nil || scored.GetScoredCount() != 2 {
		t.Fatalf("ScoreCreators: %v, %v", scored, err)
	}
	top, err := client.ListTopCreators(ctx, &pb.ListTopCreatorsRequest{Period: "2025-06", Cohort: cohort})
	if err != nil {
		t.Fatalf("ListTopCreators: %v", err)
	}
	// go-a is better on all three (GMV 300 > 100, sales 90 > the neutral 60, 10 > 5 effective followers).
	if len(top.GetScores()) != 2 || top.GetScores()[0].GetCreatorId() != "go-a" || top.GetScores()[0].GetScore() != 100 ||
		top.GetScores()[0].GetTier() != pb.CreatorTier_CREATOR_TIER_S || top.GetScores()[1].GetEffectiveFollowers() != 5 {
		t.Errorf("leaderboard: %v", top.GetScores())
	}
	_, err = client.GetCreatorScore(ctx, &pb.GetCreatorScoreRequest{CreatorId: "go-nobody", Period: "2025-06", Cohort: cohort})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetCreatorScore(unknown) code = %v, want NotFound", status.Code(err))
	}
}
