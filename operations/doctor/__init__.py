"""`hall doctor`: checks a running hall and says, in Chinese and English, what is wrong."""
