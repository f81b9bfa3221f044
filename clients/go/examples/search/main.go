// Command search runs one search against a xiaodian server and prints the hits, asks for the
// completions of the query's first two characters as a shopper types them (Suggest, 搜索联想;
// pinyin such as "yangr" or initials such as "yr" work as well), then sends an invalid request
// and prints the field violations the server answers with.
//
//	XIAODIAN_ADDR=127.0.0.1:50051 XIAODIAN_TOKEN=$(cat xiaodian-data/admin.token) go run ./examples/search 羊绒围巾
//
// XIAODIAN_ADDR defaults to 127.0.0.1:50051; the query defaults to 羊绒围巾.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"xiaodian.dev/clients/go/xiaodian"
	pb "xiaodian.dev/clients/go/xiaodianv1"
)

func main() {
	log.SetFlags(0)
	addr := os.Getenv("XIAODIAN_ADDR")
	if addr == "" {
		addr = "127.0.0.1:50051"
	}
	query := "羊绒围巾"
	if len(os.Args) > 1 {
		query = strings.Join(os.Args[1:], " ")
	}

	conn, err := xiaodian.Dial(addr, "") // the token comes from $XIAODIAN_TOKEN
	if err != nil {
		log.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	search := pb.NewSearchServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// 1. A search: the best 10 hits for the query.
	resp, err := search.Search(ctx, &pb.SearchRequest{Query: query, PageSize: 10})
	if err != nil {
		log.Fatalf("search %q: %v (reason %s)", query, err, xiaodian.ErrorInfo(err).GetReason())
	}
	fmt.Printf("%d hits for %q (%d matched)\n", len(resp.GetHits()), query, resp.GetTotalMatched())
	for i, hit := range resp.GetHits() {
		fmt.Printf("hit %d: %s %q shop %q ¥%.2f score %.3f\n", i+1, hit.GetProductId(), hit.GetTitle(),
			hit.GetShopName(), float64(hit.GetPriceFen())/100, hit.GetScore())
	}

	// 2. Completions (搜索联想) of the query's first two characters, most popular first; the
	// part the prefix matched is in brackets: [羊绒]围巾.
	prefix := string([]rune(query)[:min(2, len([]rune(query)))])
	completions, err := search.Suggest(ctx, &pb.SuggestRequest{Prefix: prefix, Limit: 5})
	if err != nil {
		log.Fatalf("suggest %q: %v (reason %s)", prefix, err, xiaodian.ErrorInfo(err).GetReason())
	}
	fmt.Printf("%d completions for %q\n", len(completions.GetSuggestions()), prefix)
	for i, s := range completions.GetSuggestions() {
		text := []rune(s.GetText())
		cut := min(int(s.GetMatchedChars()), len(text))
		fmt.Printf("suggestion %d: [%s]%s %s %s popularity %d\n", i+1, string(text[:cut]), string(text[cut:]),
			s.GetSource(), s.GetMatch(), s.GetPopularity())
	}

	// 3. An invalid search: page_size over 100 and a price range upside down. The server
	// rejects it with InvalidArgument and one BadRequest field violation per bad field.
	_, err = search.Search(ctx, &pb.SearchRequest{
		Query:    query,
		PageSize: 500,
		Filter:   &pb.SearchFilter{MinPriceFen: proto.Int64(10000), MaxPriceFen: proto.Int64(100)},
	})
	if err == nil {
		log.Fatal("the invalid search succeeded")
	}
	fmt.Printf("invalid search: %s, reason %s\n", status.Code(err), xiaodian.ErrorInfo(err).GetReason())
	for _, v := range xiaodian.FieldViolations(err) {
		fmt.Printf("violation: %s: %s\n", v.GetField(), v.GetDescription())
	}
	if delay, ok := xiaodian.RetryDelay(err); ok { // only when the server is Unavailable
		fmt.Printf("retry after %v\n", delay)
	}
	if len(xiaodian.FieldViolations(err)) == 0 {
		log.Fatal("no field violations in the answer")
	}
}
