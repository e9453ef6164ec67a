module example.com/gemma12b

go 1.19
