"""Browser pages of inquiries, one module per family: ``inquiries``, ``definitions``, ``inbox``…"""
