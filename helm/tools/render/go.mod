module ccproxyrender

go 1.19
