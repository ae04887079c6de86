package tokenbucket_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

func TestLimitValidateErrors(t *testing.T) {
	year := 365 * 24 * time.Hour
	cases := []struct {
		l    tokenbucket.Limit
		want string
	}{
		{tokenbucket.Limit{}, "tokenbucket: Rate must be > 0, got 0"},
		{tokenbucket.Limit{Rate: math.NaN(), Per: time.Second, Burst: 1}, "tokenbucket: Rate must be finite, got NaN"},
		{tokenbucket.Limit{Rate: math.Inf(1), Per: time.Second, Burst: 1}, "tokenbucket: Rate must be finite, got +Inf"},
		{tokenbucket.Limit{Rate: math.Inf(-1), Per: time.Second, Burst: 1}, "tokenbucket: Rate must be finite, got -Inf"},
		{tokenbucket.Limit{Rate: -1, Per: time.Second, Burst: 1}, "tokenbucket: Rate must be > 0, got -1"},
		{tokenbucket.Limit{Rate: 1, Per: 0, Burst: 1}, "tokenbucket: Per must be > 0, got 0s"},
		{tokenbucket.Limit{Rate: 1, Per: -time.Second, Burst: 1}, "tokenbucket: Per must be > 0, got -1s"},
		{tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 0}, "tokenbucket: Burst must be >= 1, got 0"},
		{tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: -5}, "tokenbucket: Burst must be >= 1, got -5"},
		{tokenbucket.Limit{Rate: 1e-10, Per: time.Second, Burst: 1},
			"tokenbucket: Rate must be at least about one token per 146 years, got 1e-10 per 1s"},
		{tokenbucket.Limit{Rate: 0.001, Per: year, Burst: 1},
			"tokenbucket: Rate must be at least about one token per 146 years, got 0.001 per 8760h0m0s"},
		{tokenbucket.Limit{Rate: 1, Per: 290 * year, Burst: 1},
			"tokenbucket: Rate must be at least about one token per 146 years, got 1 per 2540400h0m0s"},
		{tokenbucket.Limit{Rate: 1e300, Per: time.Second, Burst: 1},
			"tokenbucket: Rate must be <= 2^53 tokens per Per, got 1e+300 per 1s"},
		{tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: math.MaxInt},
			"tokenbucket: Burst must be small enough that Burst×Per/Rate fits the exact range, got Burst 9223372036854775807 at 1 per 1s"},
		{tokenbucket.Limit{Rate: 1, Per: time.Hour, Burst: 1 << 31},
			"tokenbucket: Burst must be small enough that Burst×Per/Rate fits the exact range, got Burst 2147483648 at 1 per 1h0m0s"},
	}
	for _, c := range cases {
		t.Run(c.l.String(), func(t *testing.T) {
			assert.EqualError(t, c.l.Validate(), c.want)
			_, err := tokenbucket.New(c.l, base)
			assert.EqualError(t, err, c.want)
			_, err = tokenbucket.NewDense(c.l, 1)
			assert.EqualError(t, err, c.want)
			k := tokenbucket.NewKeyed(func(string) tokenbucket.Limit { return c.l })
			_, err = k.Allow(base, "acme")
			assert.EqualError(t, err, c.want+` (limit of partition acme)`)
		})
	}
}

// TestLimitExactForm pins how a float Rate becomes an exact rational, as Limit reports it.
func TestLimitExactForm(t *testing.T) {
	cases := []struct {
		in, want tokenbucket.Limit
	}{
		{tokenbucket.Limit{Rate: 100, Per: time.Second, Burst: 10}, tokenbucket.Limit{Rate: 100, Per: time.Second, Burst: 10}},
		{tokenbucket.Limit{Rate: 0.5, Per: time.Second, Burst: 1}, tokenbucket.Limit{Rate: 1, Per: 2 * time.Second, Burst: 1}},
		{tokenbucket.Limit{Rate: 0.1, Per: time.Second, Burst: 1}, tokenbucket.Limit{Rate: 1, Per: 10 * time.Second, Burst: 1}},
		{tokenbucket.Limit{Rate: 1 / 3.0, Per: time.Second, Burst: 1}, tokenbucket.Limit{Rate: 1, Per: 3 * time.Second, Burst: 1}},
		{tokenbucket.Limit{Rate: 2.5, Per: time.Minute, Burst: 4}, tokenbucket.Limit{Rate: 5, Per: 2 * time.Minute, Burst: 4}},
		{tokenbucket.Limit{Rate: 10 / 60.0, Per: time.Second, Burst: 1}, tokenbucket.Limit{Rate: 1, Per: 6 * time.Second, Burst: 1}},
		{tokenbucket.Limit{Rate: 1e9, Per: time.Nanosecond, Burst: 1}, tokenbucket.Limit{Rate: 1e9, Per: time.Nanosecond, Burst: 1}},
		// 0.123456789 is not a short fraction: the first continued-fraction convergent that rounds
		// back to it is used.
		{tokenbucket.Limit{Rate: 0.123456789, Per: time.Second, Burst: 1}, tokenbucket.Limit{Rate: 13566680, Per: 109890109 * time.Second, Burst: 1}},
	}
	for _, c := range cases {
		b, err := tokenbucket.New(c.in, base)
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, b.Limit(), c.in.String())
		// The exact form is a fixed point.
		again, err := tokenbucket.New(b.Limit(), base)
		require.NoError(t, err)
		assert.Equal(t, b.Limit(), again.Limit())
	}
}

func TestEvery(t *testing.T) {
	assert.Equal(t, tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 3}, tokenbucket.Every(time.Second, 3))
	assert.Equal(t, "1/1s burst 3", tokenbucket.Every(time.Second, 3).String())
}
